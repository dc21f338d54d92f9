from django import forms
from django.core.exceptions import ValidationError

from .models import API_KEY_REFUSED, API_KEY_TAKEN, INTERCONNECT_ID, AuditEntry, Site
from .services import SiteChangedElsewhere, site_edit_claim
from .validators import clean_pasted_credential, validate_api_key, validate_api_secret


class PastedCredentialField(forms.CharField):
    """A credential copied from Xero's page: white space and zero-width marks are dropped."""

    def to_python(self, value):
        return clean_pasted_credential(super().to_python(value))


class SiteXeroDetailsForm(forms.ModelForm):
    """The procedure's "Xero Details" block. The API Secret is write-only.

    A blank secret keeps the stored one; ``clear_api_secret`` removes it.
    """

    error_messages = {
        "interconnect_id_locked": (
            f"The Xero Interconnect ID is always {INTERCONNECT_ID}, set by Imagatec; "
            "it cannot be changed."
        ),
        "secret_new_and_clear": (
            "Either type a new API Secret or tick 'Clear the stored API Secret', not both."
        ),
        "secret_not_kept": (
            "Type the API Secret again: a secret is never sent back to the page, so this box "
            "was emptied after the error."
        ),
        "secret_retype": (
            "The API Secret typed before the last error was not kept: type it again. (To "
            "save with this box blank after all, press Save once more.)"
        ),
    }

    api_key = PastedCredentialField(
        label="Xero API Key",
        required=False,
        validators=[validate_api_key],
        help_text=Site._meta.get_field("api_key").help_text,
        # Wide enough to show a whole 30-character Consumer Key or 32-character Client ID.
        widget=forms.TextInput(attrs={"size": 40, "class": "credential-input"}),
    )
    new_api_secret = PastedCredentialField(
        label="Xero API Secret",
        required=False,
        validators=[validate_api_secret],
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Type or paste a new secret to replace the stored one; leave blank to keep it.",
    )
    clear_api_secret = forms.BooleanField(
        label="Clear the stored API Secret",
        required=False,
    )
    # Set on a page shown again after an error when a secret had been typed (the box comes
    # back empty): the next save then asks for the secret instead of saving as if it had
    # been left blank on purpose.
    api_secret_retype = forms.BooleanField(required=False, widget=forms.HiddenInput)

    # The Site's version this form showed: a save from an older one is refused.
    # (Not named ``version``: the admin refuses a form field named as a non-editable column.)
    site_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Site
        fields = ["name", "code", "connection_type", "api_key", "payroll_enabled"]
        help_texts = {
            "connection_type": (
                "A Custom Connection is Xero's current way. Xero has retired private "
                "applications: choose one only for a Site that still connects to a "
                "Xero-compatible server."
            ),
        }

    @staticmethod
    def changes_api_secret(data) -> bool:
        """Whether submitting ``data`` replaces or clears the API Secret (which needs a fresh
        second factor, warehouse/sudo.py)."""
        return bool(data.get("new_api_secret", "").strip() or data.get("clear_api_secret"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site_version"].initial = self.instance.version
        self.secret_typed = self.secret_retype_expected = False
        if self.is_bound:
            flag = self.add_prefix("api_secret_retype")
            self.secret_typed = bool(self.data.get(self.add_prefix("new_api_secret"), "").strip())
            self.secret_retype_expected = (
                self.data.get(flag) in ("1", "True", "on")
                and not self.secret_typed
                and not self.data.get(self.add_prefix("clear_api_secret"))
            )
            # The hidden flag of the page shown again: set when a secret was typed this time.
            data = self.data.copy()  # type: ignore[attr-defined]  # a QueryDict, or a dict
            data[flag] = "1" if self.secret_typed else ""
            self.data = data

    def full_clean(self):
        super().full_clean()
        if self.secret_typed and self.errors and "new_api_secret" not in self.errors:
            self.add_error(
                "new_api_secret",
                forms.ValidationError(
                    self.error_messages["secret_not_kept"], code="secret_not_kept"
                ),
            )

    def clean(self):
        cleaned_data = super().clean() or {}
        if self.secret_retype_expected:
            self.add_error(
                "new_api_secret",
                forms.ValidationError(self.error_messages["secret_retype"], code="secret_retype"),
            )
        posted_interconnect_id = self.data.get("interconnect_id")
        if posted_interconnect_id is not None and posted_interconnect_id != INTERCONNECT_ID:
            raise forms.ValidationError(
                self.error_messages["interconnect_id_locked"], code="interconnect_id_locked"
            )
        new_secret = cleaned_data.get("new_api_secret")
        if cleaned_data.get("clear_api_secret"):
            if new_secret:
                raise forms.ValidationError(
                    self.error_messages["secret_new_and_clear"], code="secret_new_and_clear"
                )
            self.instance.api_secret = ""
        elif new_secret:
            self.instance.api_secret = new_secret
        if self.instance.pk is not None and not self.errors:
            self._claim_version(cleaned_data.get("site_version"))
        return cleaned_data

    def _claim_version(self, version) -> None:
        # Last, once all else is valid; in the caller's transaction (the admin's, the
        # setup page's), so the claim commits with the save.
        try:
            site_edit_claim(site=self.instance, version=version)
        except SiteChangedElsewhere as changed:
            # What this person typed stays on the page, now based on the version saved
            # meanwhile: saving again applies it over the other person's change.
            # A QueryDict (a post): its copy is mutable (mypy: bound data is a Mapping).
            data = self.data.copy()  # type: ignore[attr-defined]
            data[self.add_prefix("site_version")] = str(
                type(self.instance)
                .objects.filter(pk=self.instance.pk)
                .values_list("version", flat=True)
                .first()
            )
            self.data = data
            raise forms.ValidationError(changed.message, code="changed_elsewhere") from None


class SiteAddForm(SiteXeroDetailsForm):
    """A new Site: nothing is stored yet, so there is no secret to keep or clear."""

    # Django's way to drop an inherited form field (mypy: assignment, not a field's type).
    clear_api_secret = None  # type: ignore[assignment]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_api_secret"].help_text = Site._meta.get_field("api_secret").help_text


class SiteXeroCredentialsForm(SiteXeroDetailsForm):
    """Step 3 of the setup page: only the Xero Details, not the Site's name or code."""

    field_order = [
        "api_key",
        "new_api_secret",
        "api_secret_retype",
        "clear_api_secret",
        "payroll_enabled",
    ]

    class Meta(SiteXeroDetailsForm.Meta):
        fields = ["api_key", "payroll_enabled"]

    def __init__(self, *args, customer: bool = False, **kwargs):
        """``customer``: the form is a customer's, whose refusals never tell them that
        another Site holds the API Key they typed."""
        super().__init__(*args, **kwargs)
        self.customer = customer
        if self.instance.connection_type == Site.ConnectionType.CUSTOM_CONNECTION:
            self.fields[
                "api_key"
            ].help_text = "The Client ID shown on the Custom Connection's page."
            self.fields[
                "new_api_secret"
            ].help_text = "The Client Secret. Leave blank to keep the stored one."
        else:
            self.fields["api_key"].help_text = "The Consumer Key shown on the application's page."
            self.fields[
                "new_api_secret"
            ].help_text = "The Consumer Secret. Leave blank to keep the stored one."

    def add_error(self, field, error):
        # The model's checks (the API Key's unique constraint) arrive here too.
        if self.customer and isinstance(error, ValidationError):
            error = _other_sites_hidden(error)
        super().add_error(field, error)


def _other_sites_hidden(error: ValidationError) -> ValidationError:
    """``error`` with "another Site already uses this API Key" replaced by a refusal that does
    not tell a customer the key exists."""

    def hidden(one: ValidationError) -> ValidationError:
        if API_KEY_TAKEN in one.messages:
            return ValidationError(API_KEY_REFUSED, code="api_key_refused")
        return one

    if hasattr(error, "error_dict"):
        return ValidationError(
            {field: [hidden(one) for one in errors] for field, errors in error.error_dict.items()}
        )
    return ValidationError([hidden(one) for one in error.error_list])


class AuditFilterForm(forms.Form):
    """The global audit log's filters; every one optional. Bad values are errors, not 500s."""

    error_messages = {
        "dates_reversed": "The 'from' date is after the 'to' date: swap them.",
    }

    site = forms.CharField(label="Site code or name", required=False, max_length=200)
    user = forms.CharField(label="User", required=False, max_length=150)
    kind = forms.ChoiceField(
        label="Kind", required=False, choices=[("", "All kinds"), *AuditEntry.Kind.choices]
    )
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        cleaned_data = super().clean() or {}
        since, until = cleaned_data.get("since"), cleaned_data.get("until")
        if since and until and since > until:
            raise forms.ValidationError(
                self.error_messages["dates_reversed"], code="dates_reversed"
            )
        return cleaned_data


class AuditKindForm(forms.Form):
    """A Site timeline's one filter, named so it cannot clash with the page's own fields."""

    audit_kind = forms.ChoiceField(
        label="Kind", required=False, choices=[("", "All kinds"), *AuditEntry.Kind.choices]
    )
