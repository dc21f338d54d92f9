from django import forms
from django.conf import settings

from .certificates import KEY_SIZES, MAX_VALIDITY_DAYS


class CertificateIssueForm(forms.Form):
    key_size = forms.TypedChoiceField(
        label="Key size",
        choices=[(size, f"{size} bits") for size in KEY_SIZES],
        coerce=int,
        error_messages={"invalid_choice": "Choose a key size of 2048 or 4096 bits."},
    )
    days = forms.IntegerField(
        label="Valid for (days)",
        min_value=1,
        max_value=MAX_VALIDITY_DAYS,
        error_messages={
            "min_value": "A certificate must be valid for at least 1 day.",
            "max_value": f"A certificate can be valid for at most {MAX_VALIDITY_DAYS} days.",
            "invalid": "Enter the number of days as a whole number, e.g. 1825.",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key_size"].initial = settings.XERO_CERTIFICATE_KEY_SIZE
        self.fields["days"].initial = settings.XERO_CERTIFICATE_DAYS
