from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm

from sites.roles import ROLES


class SignInForm(AdminAuthenticationForm):
    """The sign-in page's form: an email address (any case) or a login name.

    Django's admin says "…for a staff account" for every failure; customers have no idea what
    that is, and a user whose password was right but who lacks *Staff status* was told their
    password was wrong. Here a wrong password says so plainly, and a right password without
    *Staff status* says what is missing and who can fix it.
    """

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": (
            "That email address (or username) and password do not match an account. Check "
            "both; the password is case-sensitive."
        ),
        "inactive": "This account is switched off. Ask an Admin to switch it on again.",
        "no_staff_status": (
            "Your password is right, but this account may not open the Warehouse: it lacks "
            "Staff status{groups}. Ask an Admin to tick Staff status on your user page."
        ),
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "Email address or username"

    def confirm_login_allowed(self, user):
        if not user.is_active:
            raise forms.ValidationError(self.error_messages["inactive"], code="inactive")
        if not user.is_staff:
            roles = list(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
            groups = f" (it is in {', '.join(roles)}, which needs it)" if roles else ""
            raise forms.ValidationError(
                self.error_messages["no_staff_status"].format(groups=groups),
                code="no_staff_status",
            )


class SecondFactorCodeForm(forms.Form):
    """A code from the authenticator app, or a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autofocus": True,
                "spellcheck": "false",
                "autocapitalize": "off",
            }
        ),
    )

    def clean_code(self):
        # Apps show "123 456"; people type what they see.
        return "".join(self.cleaned_data["code"].split())
