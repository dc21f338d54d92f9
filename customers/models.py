"""Customer accounts' link to Sites, and the invitations that create them."""

import datetime
import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

from sites.fields import done_by
from sites.models import Site
from warehouse.email_addresses import same_address


def token_hash(token: str) -> str:
    """What is stored of an invitation's token: its SHA-256, so a database leak holds no link.

    The token is 256 random bits, so a fast hash is enough (no password stretching needed).
    """
    return hashlib.sha256(token.encode()).hexdigest()


class Membership(models.Model):
    """A customer user who may do the Xero procedure of one Site (a user may have many)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_memberships"
    )
    added_by = done_by()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["site__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["site", "user"], name="membership_once_per_site")
        ]
        # Granted to the Customers group only. A permission rather than a group-name lookup:
        # the user's permissions are cached on the request's user, which the views read
        # anyway, so telling a customer apart costs no query on any page.
        permissions = [("own_sites_only", "Is a customer: sees and touches only their own Sites")]

    def __str__(self):
        return f"{self.user} on {self.site}"

    @property
    def customer_name(self) -> str:
        """How pages and the audit trail name the customer: their email, else their login."""
        return self.user.email or self.user.get_username()


class InvitationQuerySet(models.QuerySet):
    def open(self, *, now: datetime.datetime | None = None):
        """Not accepted, not revoked and not expired: the ones whose link still works."""
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now or timezone.now()
        )

    def open_to(self, *, site: Site, email: str, now: datetime.datetime | None = None):
        """The open invitations of ``email`` to ``site``, compared in the addresses' normal
        form (``warehouse.email_addresses``): the links that would give that address the Site.
        A Site has few open invitations, so they are compared here rather than in SQL."""
        candidates = self.open(now=now).filter(site=site).values_list("pk", "email")
        return self.filter(pk__in=[pk for pk, other in candidates if same_address(other, email)])


class Invitation(models.Model):
    """An invitation for one email address to do one Site's procedure: a single-use link."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = done_by()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = done_by()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = done_by()

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("invite_customer", "Can invite a customer to a Site, or revoke it")]

    def __str__(self):
        return f"Invitation of {self.email} to {self.site}"

    def state(self, *, now: datetime.datetime | None = None) -> str:
        if self.accepted_at is not None:
            return self.State.ACCEPTED
        if self.revoked_at is not None:
            return self.State.REVOKED
        if self.expires_at <= (now or timezone.now()):
            return self.State.EXPIRED
        return self.State.OPEN

    @property
    def state_label(self) -> str:
        return self.State(self.state()).label

    @property
    def inviter_name(self) -> str:
        """Who to ask about this invitation: the inviter, else the Warehouse team."""
        if self.invited_by is None:
            return "the Warehouse team"
        user = self.invited_by
        name = user.get_full_name() or user.username
        return f"{name} ({user.email})" if user.email else name
