import uuid

from django import forms

from .gateways import gateway_names


class DummyCardForm(forms.Form):
    """The dummy gateway's card form; the hidden key makes a double submit pay once."""

    card_number = forms.CharField(
        label="Card number",
        max_length=32,
        help_text="Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined, "
        "4000 0000 0000 3220 is confirmed a moment later.",
        widget=forms.TextInput(
            attrs={"autocomplete": "cc-number", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )
    idempotency_key = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("idempotency_key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)


class HostedCheckoutForm(forms.Form):
    """Pay on the provider's own page: the shop never sees the card."""

    gateway = forms.ChoiceField(choices=(), widget=forms.HiddenInput)
    idempotency_key = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, gateway: str | None = None, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("idempotency_key", uuid.uuid4().hex)
        if gateway:
            kwargs["initial"]["gateway"] = gateway
        super().__init__(*args, **kwargs)
        self.fields["gateway"].choices = [(name, name) for name in gateway_names()]


class ProviderCardForm(forms.Form):
    """The dummy provider's card form, on its own page."""

    card_number = forms.CharField(
        label="Card number",
        max_length=32,
        help_text="Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined, "
        "4000 0000 0000 3220 is confirmed a moment later.",
        widget=forms.TextInput(
            attrs={"autocomplete": "cc-number", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )
