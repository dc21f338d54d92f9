from django.db import models
from django.db.models import Q

from .fields import EncryptedTextField
from .validators import (
    API_KEY_MAX_LENGTH,
    validate_api_key,
    validate_api_secret,
    validate_display_name,
)

INTERCONNECT_ID = "IMAGATEC"


def mask_secret(value: str) -> str:
    """Show a secret the way Xero does: first two and last two characters, e.g. ``LL.....QO``.

    Short values would give most of themselves away, so they show only the dots.
    """
    if not value:
        return ""
    if len(value) < 12:
        return "....."
    return f"{value[:2]}.....{value[-2:]}"


class Site(models.Model):
    """A customer Site and the Xero details its integration uses."""

    class ConnectionType(models.TextChoices):
        PRIVATE_APP = "private_app", "Private application (OAuth 1.0a, retired by Xero)"
        CUSTOM_CONNECTION = "custom_connection", "Custom Connection (OAuth 2.0)"

    name = models.CharField(max_length=200, validators=[validate_display_name])
    code = models.SlugField(
        max_length=32,
        unique=True,
        help_text="Short unique code used in links and file names, e.g. 'acme-syd'.",
        error_messages={"unique": "Another Site already uses this code. Choose another."},
    )
    interconnect_id = models.CharField(
        "Xero Interconnect ID",
        max_length=16,
        default=INTERCONNECT_ID,
        editable=False,
        help_text="Set by Imagatec.",
    )
    connection_type = models.CharField(
        max_length=32,
        choices=ConnectionType.choices,
        default=ConnectionType.PRIVATE_APP,
    )
    api_key = models.CharField(
        "Xero API Key",
        max_length=API_KEY_MAX_LENGTH,
        blank=True,
        validators=[validate_api_key],
        help_text="The Consumer Key (private application) or Client ID (Custom Connection).",
    )
    api_secret = EncryptedTextField(
        "Xero API Secret",
        blank=True,
        validators=[validate_api_secret],
        help_text="The Consumer Secret or Client Secret. Stored encrypted; never shown again.",
    )
    payroll_enabled = models.BooleanField(
        "Payroll enabled",
        default=True,
        help_text="The procedure's 'Enable Payroll API for this organisation' box.",
    )
    xero_organisation_name = models.CharField(
        "Xero organisation",
        max_length=255,
        blank=True,
        help_text="Found by the last successful connection test.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("view_api_secret_mask", "Can see the masked Xero API Secret"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(interconnect_id=INTERCONNECT_ID),
                name="site_interconnect_id_locked",
                violation_error_message=(
                    f"The Xero Interconnect ID is always {INTERCONNECT_ID}, set by Imagatec; "
                    "it cannot be changed."
                ),
            ),
            models.UniqueConstraint(
                fields=["api_key"],
                condition=~Q(api_key=""),
                name="site_api_key_unique",
                violation_error_message=(
                    "Another Site already uses this API Key. Each Xero application belongs to "
                    "one Site: check you copied this Site's Consumer Key (or Client ID)."
                ),
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"

    @property
    def api_secret_masked(self) -> str:
        return mask_secret(self.api_secret)

    @property
    def has_api_credentials(self) -> bool:
        return bool(self.api_key and self.api_secret)
