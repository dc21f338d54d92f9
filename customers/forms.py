from django import forms
from django.contrib.auth import authenticate, get_user_model, password_validation

from warehouse.email_addresses import username_for

# Any address email allows (RFC 5321's 254): customers sign in with it, not with the login
# name made from it (warehouse/email_addresses.py).
EMAIL_MAX_LENGTH = 254


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label="Customer's email address",
        max_length=EMAIL_MAX_LENGTH,
        error_messages={"invalid": "Enter the customer's email address, e.g. anna@example.com."},
    )


class AcceptInvitationForm(forms.Form):
    """The password a new customer chooses, checked by the project's password validators."""

    error_messages = {"password_mismatch": "The two passwords differ. Type the same one twice."}

    password1 = forms.CharField(
        label="Choose a password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="The same password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean() or {}
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2:
            if password1 != password2:
                raise forms.ValidationError(
                    self.error_messages["password_mismatch"], code="password_mismatch"
                )
            # Checked against the account to be (so "too similar to your email" works).
            user = get_user_model()(username=username_for(self.email), email=self.email)
            password_validation.validate_password(password1, user)
        return cleaned


class ExistingAccountForm(forms.Form):
    """The password of the account an invitation's address has already: the Site is added
    to it only once the password is right (counted by django-axes like a sign-in)."""

    password = forms.CharField(
        label="Your Warehouse password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, request, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.request, self.account = request, account

    def clean_password(self):
        password = self.cleaned_data["password"]
        user = authenticate(self.request, username=self.account.get_username(), password=password)
        if user is None or user.pk != self.account.pk:
            raise forms.ValidationError(
                "That is not the password of this account. Type the one you sign in with.",
                code="wrong_password",
            )
        self.account = user
        return password
