import re

from django import forms
from django.conf import settings

from .certificates import KEY_SIZES, KEY_SIZES_TEXT, MAX_VALIDITY_DAYS


class CertificateIssueForm(forms.Form):
    key_size = forms.TypedChoiceField(
        label="Key size",
        choices=[(size, f"{size} bits") for size in KEY_SIZES],
        coerce=int,
        error_messages={"invalid_choice": f"Choose a key size of {KEY_SIZES_TEXT} bits."},
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


class FleetCheckForm(forms.Form):
    """The health page's bulk actions: test the selected Sites, or every failing one."""

    TEST_SELECTED = "test_selected"
    TEST_FAILING = "test_failing"

    action = forms.ChoiceField(
        choices=[(TEST_SELECTED, "Test selected"), (TEST_FAILING, "Test all failing")],
        error_messages={"required": "Choose what to test.", "invalid_choice": "Unknown action."},
    )
    sites = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        choices=(),
        error_messages={"invalid_choice": "“%(value)s” is not a Site: select Sites from the list."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any id is a valid choice here; Sites that do not exist are simply not queued.
        # (mypy: attr-defined) the field is a ChoiceField, which has valid_value; the
        # declared type of ``fields`` is any Field.
        self.fields["sites"].valid_value = is_record_id  # type: ignore[attr-defined]

    def clean(self):
        cleaned = super().clean() or {}
        if cleaned.get("action") == self.TEST_SELECTED and not cleaned.get("sites"):
            raise forms.ValidationError("Select the Sites to test first.", code="no_selection")
        return cleaned


# The largest primary key a table holds (a 64-bit signed integer, on SQLite and PostgreSQL
# alike): a larger number posted in a form would reach the database as an overflow.
MAX_RECORD_ID = 2**63 - 1
_RECORD_ID = re.compile(r"[1-9][0-9]{0,18}")


def is_record_id(value) -> bool:
    """Whether ``value`` (as posted) is a primary key a table could hold."""
    text = str(value)
    return bool(_RECORD_ID.fullmatch(text)) and int(text) <= MAX_RECORD_ID


class AlertPreferencesForm(forms.Form):
    """One choice per kind of alert the person can get: at once, daily digest, or off."""

    def __init__(self, *args, kinds, current: dict[str, str], **kwargs):
        from .models import AlertPreference

        super().__init__(*args, **kwargs)
        for kind, label in kinds:
            self.fields[kind] = forms.ChoiceField(
                label=label,
                choices=AlertPreference.Delivery.choices,
                initial=current.get(kind, AlertPreference.Delivery.IMMEDIATELY),
                error_messages={"invalid_choice": "Choose immediately, daily digest or off."},
            )
