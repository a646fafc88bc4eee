import uuid

from django import forms
from django.core.validators import RegexValidator

from .models import MAX_LINE_QUANTITY


class CartAddForm(forms.Form):
    product = forms.IntegerField(min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    quantity = forms.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY, initial=1)


class CartItemQuantityForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)


class CheckoutForm(forms.Form):
    """The shipping address, plus a hidden key so a double submit places one order."""

    full_name = forms.CharField(
        max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    line1 = forms.CharField(
        label="Address",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "address-line1"}),
    )
    line2 = forms.CharField(
        label="Address line 2",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-line2"}),
    )
    city = forms.CharField(
        max_length=100, widget=forms.TextInput(attrs={"autocomplete": "address-level2"})
    )
    postal_code = forms.CharField(
        max_length=12,
        validators=[
            RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,11}$", "Enter a valid postal code.")
        ],
        widget=forms.TextInput(attrs={"autocomplete": "postal-code"}),
    )
    country = forms.CharField(
        max_length=2,
        min_length=2,
        help_text="Two-letter country code, such as DE or GB.",
        validators=[
            RegexValidator(r"^[A-Za-z]{2}$", "Enter a two-letter country code, such as DE.")
        ],
        widget=forms.TextInput(attrs={"autocomplete": "country"}),
    )
    idempotency_key = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("idempotency_key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)

    def clean_country(self):
        return self.cleaned_data["country"].upper()

    def clean_postal_code(self):
        return self.cleaned_data["postal_code"].upper()

    def shipping_address(self) -> dict:
        """Return the address in the shape the API takes."""
        fields = ("full_name", "line1", "line2", "city", "postal_code", "country")
        return {name: self.cleaned_data[name] for name in fields}
