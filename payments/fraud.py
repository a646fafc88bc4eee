"""Fraud rules: pure functions from what we know about a payment to a score.

Each rule looks at `FraudSignals` (gathered by `selectors.fraud_signals`) under the limits of
`FraudRules` (read from settings) and returns a `RuleHit` or None. The hits' scores add up,
capped at 100; at or above `review_score` the payment waits for staff review.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings

MAX_SCORE = 100


@dataclass(frozen=True)
class FraudRules:
    amount_threshold: Decimal
    max_orders_per_hour: int
    max_declines_per_hour: int
    new_account_age: timedelta
    new_account_amount: Decimal
    review_score: int

    @classmethod
    def from_settings(cls) -> "FraudRules":
        return cls(
            amount_threshold=Decimal(str(settings.FRAUD_AMOUNT_THRESHOLD)),
            max_orders_per_hour=int(settings.FRAUD_MAX_ORDERS_PER_HOUR),
            max_declines_per_hour=int(settings.FRAUD_MAX_DECLINES_PER_HOUR),
            new_account_age=timedelta(hours=int(settings.FRAUD_NEW_ACCOUNT_HOURS)),
            new_account_amount=Decimal(str(settings.FRAUD_NEW_ACCOUNT_AMOUNT)),
            review_score=int(settings.FRAUD_REVIEW_SCORE),
        )


@dataclass(frozen=True)
class FraudSignals:
    amount: Decimal
    account_age: timedelta
    orders_by_user_last_hour: int = 0
    orders_by_ip_last_hour: int = 0
    declines_by_user_last_hour: int = 0
    declines_by_ip_last_hour: int = 0


@dataclass(frozen=True)
class RuleHit:
    rule: str
    score: int
    detail: str

    def as_dict(self) -> dict:
        return {"rule": self.rule, "score": self.score, "detail": self.detail}


@dataclass(frozen=True)
class FraudAssessment:
    score: int
    hits: tuple[RuleHit, ...]
    review: bool


def rule_amount_over_threshold(signals: FraudSignals, rules: FraudRules) -> RuleHit | None:
    if signals.amount > rules.amount_threshold:
        return RuleHit(
            "amount_over_threshold", 60, f"{signals.amount} is over {rules.amount_threshold}."
        )
    return None


def rule_order_velocity(signals: FraudSignals, rules: FraudRules) -> RuleHit | None:
    count = max(signals.orders_by_user_last_hour, signals.orders_by_ip_last_hour)
    if count > rules.max_orders_per_hour:
        return RuleHit(
            "order_velocity",
            50,
            f"{count} orders from this user or IP in an hour (limit {rules.max_orders_per_hour}).",
        )
    return None


def rule_decline_velocity(signals: FraudSignals, rules: FraudRules) -> RuleHit | None:
    count = max(signals.declines_by_user_last_hour, signals.declines_by_ip_last_hour)
    if count > rules.max_declines_per_hour:
        return RuleHit(
            "decline_velocity",
            60,
            f"{count} declined payments from this user or IP in an hour "
            f"(limit {rules.max_declines_per_hour}).",
        )
    return None


def rule_new_account_large_amount(signals: FraudSignals, rules: FraudRules) -> RuleHit | None:
    if signals.account_age < rules.new_account_age and signals.amount > rules.new_account_amount:
        hours = int(signals.account_age.total_seconds() // 3600)
        return RuleHit(
            "new_account_large_amount",
            50,
            f"An account {hours} h old pays {signals.amount} (over {rules.new_account_amount}).",
        )
    return None


RULES: tuple[Callable[[FraudSignals, FraudRules], RuleHit | None], ...] = (
    rule_amount_over_threshold,
    rule_order_velocity,
    rule_decline_velocity,
    rule_new_account_large_amount,
)


def fraud_assess(*, signals: FraudSignals, rules: FraudRules) -> FraudAssessment:
    """Run every rule; the payment goes to review when the score reaches the threshold."""
    hits = tuple(hit for rule in RULES if (hit := rule(signals, rules)) is not None)
    score = min(sum(hit.score for hit in hits), MAX_SCORE)
    return FraudAssessment(score=score, hits=hits, review=score >= rules.review_score)
