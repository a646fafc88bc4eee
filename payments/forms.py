import uuid

from django import forms


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
