import pytest


@pytest.fixture(autouse=True)
def _quiet_fraud_rules(settings):
    settings.FRAUD_AMOUNT_THRESHOLD = "1000.00"
    settings.FRAUD_MAX_ORDERS_PER_HOUR = 100
    settings.FRAUD_MAX_DECLINES_PER_HOUR = 100
    settings.FRAUD_NEW_ACCOUNT_HOURS = 0
    settings.FRAUD_REVIEW_SCORE = 50
