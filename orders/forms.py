import uuid

from django import forms
from django.core.validators import RegexValidator
from django_countries import countries

from .models import MAX_LINE_QUANTITY


class CartAddForm(forms.Form):
    product = forms.IntegerField(min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    quantity = forms.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY, initial=1)


class CartItemQuantityForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)


def country_choices():
    return [("", "Choose a country"), *((c.code, c.name) for c in countries)]


POSTAL_CODE = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,11}$", "Enter a valid postal code.")


class AddressForm(forms.Form):
    """A postal address; the country is chosen from full names and sent as an ISO code."""

    full_name = forms.CharField(
        max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    line1 = forms.CharField(
        label="Address",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "address-line1"}),
    )
    line2 = forms.CharField(
        label="Address line 2 (optional)",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-line2"}),
    )
    city = forms.CharField(
        max_length=100, widget=forms.TextInput(attrs={"autocomplete": "address-level2"})
    )
    postal_code = forms.CharField(
        max_length=12,
        validators=[POSTAL_CODE],
        widget=forms.TextInput(attrs={"autocomplete": "postal-code"}),
    )
    country = forms.ChoiceField(
        choices=country_choices,
        widget=forms.Select(attrs={"autocomplete": "country"}),
        error_messages={"invalid_choice": "Choose a country from the list."},
    )

    ADDRESS_FIELDS = ("full_name", "line1", "line2", "city", "postal_code", "country")

    def clean_postal_code(self):
        return self.cleaned_data["postal_code"].upper()

    def shipping_address(self) -> dict:
        """Return the address in the shape the API takes."""
        return {name: self.cleaned_data[name] for name in self.ADDRESS_FIELDS}


class AddressBookForm(AddressForm):
    is_default = forms.BooleanField(label="Use as my default address", required=False)


NEW_ADDRESS = "new"


class CheckoutForm(AddressForm):
    """Where to ship and how, plus a hidden key so a double submit places one order.

    With saved addresses, `saved_address` picks one (the fields below are then ignored).
    A guest also gives an email address.
    """

    email = forms.EmailField(
        label="Email address",
        max_length=254,
        help_text="We send the order confirmation and a link to your order here.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    saved_address = forms.ChoiceField(
        label="Ship to", required=False, widget=forms.RadioSelect(attrs={"class": "choice"})
    )
    save_address = forms.BooleanField(
        label="Save this address in my address book", required=False, initial=True
    )
    shipping_method = forms.TypedChoiceField(
        label="Delivery",
        coerce=int,
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Choose one of the delivery options."},
    )
    idempotency_key = forms.CharField(max_length=64, widget=forms.HiddenInput)

    field_order = ("email", "saved_address", *AddressForm.ADDRESS_FIELDS, "save_address")

    def __init__(self, *args, user=None, addresses=(), methods=(), method_labels=None, **kwargs):
        kwargs.setdefault("initial", {})
        initial = kwargs["initial"]
        initial.setdefault("idempotency_key", uuid.uuid4().hex)
        if user is not None and user.is_authenticated:
            name = " ".join(part for part in (user.first_name, user.last_name) if part)
            initial.setdefault("full_name", name)
        super().__init__(*args, **kwargs)
        self.addresses = {str(address.pk): address for address in addresses}
        if user is not None and user.is_authenticated:
            del self.fields["email"]
        else:
            del self.fields["save_address"]
        if self.addresses:
            self.fields["saved_address"].choices = [
                *((pk, str(address)) for pk, address in self.addresses.items()),
                (NEW_ADDRESS, "A new address"),
            ]
            default = next((a for a in addresses if a.is_default), addresses[0])
            self.initial.setdefault("saved_address", str(default.pk))
        else:
            del self.fields["saved_address"]
        labels = method_labels or {}
        self.fields["shipping_method"].choices = [
            (method.pk, labels.get(method.pk, method.name)) for method in methods
        ]
        if methods:
            self.initial.setdefault("shipping_method", methods[0].pk)
        else:
            del self.fields["shipping_method"]

    def _using_saved(self) -> bool:
        if "saved_address" not in self.fields:
            return False
        return self.data.get(self.add_prefix("saved_address"), NEW_ADDRESS) != NEW_ADDRESS

    def full_clean(self):
        # A chosen saved address makes the typed address optional.
        if self.is_bound and self._using_saved():
            for name in self.ADDRESS_FIELDS:
                self.fields[name].required = False
        super().full_clean()

    def clean(self):
        cleaned = super().clean()
        if self._using_saved():
            address = self.addresses.get(cleaned.get("saved_address") or "")
            if address is None:
                self.add_error("saved_address", "Choose one of your addresses.")
            else:
                self.saved = address
        return cleaned

    def clean_shipping_method(self):
        value = self.cleaned_data.get("shipping_method")
        return None if value in ("", None) else value

    def shipping_address(self) -> dict:
        saved = getattr(self, "saved", None)
        if saved is not None:
            return saved.as_shipping_address()
        return super().shipping_address()

    def uses_new_address(self) -> bool:
        return getattr(self, "saved", None) is None


class GuestAccountForm(forms.Form):
    """A password for the account a guest makes after ordering (the email is the order's)."""

    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
