import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from sites.fields import EncryptedTextField
from sites.models import Site

EXPIRY_WARNING_DAYS = 60


class CertificateQuerySet(models.QuerySet):
    def active(self):
        return self.filter(state=Certificate.State.ACTIVE)

    def pending(self):
        return self.filter(state=Certificate.State.PENDING)

    def current(self):
        """The certificates a Site may sign with: active first, then pending."""
        return self.exclude(state=Certificate.State.RETIRED).order_by("state", "-issued_at")


class Certificate(models.Model):
    """An X509 certificate issued for a Site; its private key never leaves the server."""

    class State(models.TextChoices):
        # Alphabetical order puts active before pending, which current() relies on.
        ACTIVE = "active", "Active"
        PENDING = "pending", "Pending (waiting for a passing connection test)"
        RETIRED = "retired", "Retired"

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="certificates")
    state = models.CharField(max_length=16, choices=State.choices)
    certificate_pem = models.TextField("public certificate (PEM)")
    private_key_pem = EncryptedTextField("private key (PEM)")
    serial_number = models.CharField(max_length=64, help_text="Hexadecimal.")
    key_size = models.PositiveIntegerField()
    fingerprint_sha1 = models.CharField("SHA-1 fingerprint", max_length=59)
    fingerprint_sha256 = models.CharField("SHA-256 fingerprint", max_length=95)
    not_valid_before = models.DateTimeField()
    not_valid_after = models.DateTimeField()
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at", "-pk"]
        permissions = [
            ("issue_certificate", "Can issue and promote a Site's Xero certificate"),
            ("download_certificate", "Can download a Site's public certificate"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["site"],
                condition=Q(state="active"),
                name="certificate_one_active_per_site",
                violation_error_message="A Site can have only one active certificate.",
            ),
            models.UniqueConstraint(
                fields=["site"],
                condition=Q(state="pending"),
                name="certificate_one_pending_per_site",
                violation_error_message="A Site can have only one pending certificate.",
            ),
        ]

    def __str__(self):
        return f"{self.site.code} certificate {self.serial_number[:8]}… ({self.state})"

    @property
    def download_filename(self) -> str:
        return f"{self.site.code}-publickey.cer"

    def days_to_expiry(self, now: datetime.datetime | None = None) -> int:
        return (self.not_valid_after - (now or timezone.now())).days

    def is_expiring(self, now: datetime.datetime | None = None) -> bool:
        return self.days_to_expiry(now) < EXPIRY_WARNING_DAYS


class CertificateEvent(models.Model):
    """Who did what to which certificate, and when."""

    class Action(models.TextChoices):
        ISSUED = "issued", "Issued"
        DOWNLOADED = "downloaded", "Downloaded"
        ACTIVATED = "activated", "Activated"
        RETIRED = "retired", "Retired"

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=Action.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.get_action_display()} {self.at:%Y-%m-%d %H:%M}"
