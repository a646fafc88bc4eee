from django import forms

MAX_UNITS = 1_000_000


class StockReceiveForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=MAX_UNITS)
    batch_number = forms.CharField(max_length=64, required=False)
    expires_on = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Expires on"
    )
    reference = forms.CharField(
        max_length=64, required=False, help_text="Delivery note or purchase order, if any."
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("expires_on") and not cleaned.get("batch_number", "").strip():
            self.add_error("batch_number", "A batch number is needed with an expiry date.")
        return cleaned


class StockAdjustForm(forms.Form):
    delta = forms.IntegerField(
        min_value=-MAX_UNITS,
        max_value=MAX_UNITS,
        help_text="Units to add (positive) or remove (negative).",
    )
    reason = forms.CharField(max_length=255)

    def clean_delta(self):
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise forms.ValidationError("Must not be zero.")
        return delta
