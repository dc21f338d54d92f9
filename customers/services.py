"""Writes of customer accounts: invitations, accepting them, memberships and removing them.

Views, the command and the admin call these; none of them saves a model itself.
"""

import datetime
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.selectors import users_with_address
from outbox.services import outbox_about
from sites import audit
from sites.models import AuditEntry, Site
from warehouse.email_addresses import USERNAME_MAX_LENGTH, username_for

from .access import CUSTOMERS, is_customer
from .exceptions import (
    InvitationAddressRefused,
    InvitationExpired,
    InvitationForStaffAccount,
    InvitationLimitReached,
    InvitationNeedsPassword,
    InvitationRevoked,
    InvitationUnknown,
    InvitationUsed,
)
from .models import Invitation, Membership, token_hash


def _now(now: datetime.datetime | None) -> datetime.datetime:
    return now or timezone.now()


def customer_for_email(email: str):
    """The customer account whose email (or login name) is ``email`` in the addresses'
    normal form (``warehouse.email_addresses``); ``None`` if none. Raises
    ``InvitationForStaffAccount`` when the address is a Staff, Admins or Support account's
    in any case or form: customers must have accounts of their own."""
    users = users_with_address(email)
    if any(not is_customer(user) for user in users):
        raise InvitationForStaffAccount
    return users[0] if users else None


def membership_add(*, site: Site, user, added_by=None) -> Membership:
    """Give customer ``user`` the procedure of ``site`` (again is harmless)."""
    membership, _ = Membership.objects.get_or_create(
        site=site, user=user, defaults={"added_by": added_by}
    )
    return membership


def invitation_create(
    *, site: Site, email: str, invited_by=None, link_base: str, now=None
) -> tuple[Invitation | None, str]:
    """Invite ``email`` to do ``site``'s procedure, and email them; returns the invitation and
    the link (``None`` and the sign-in link when ``email`` already has a customer account: the
    Site is then added to it at once).

    ``link_base`` is the Warehouse's address (``https://warehouse.example.com``). The token is
    in the link only; the database keeps its hash. Open invitations of the same address to the
    same Site are revoked, so one link works at a time. ``invited_by`` may send at most
    ``INVITATIONS_PER_HOUR`` an hour (the shell, ``invited_by=None``, is not limited).
    """
    now = _now(now)
    email = email.strip()
    # One transaction, with the inviter's row locked first: two invitations sent at once
    # count one after the other, so the hourly limit holds however many arrive together.
    with transaction.atomic():
        if invited_by is not None:
            _invitation_limit_check(invited_by=invited_by, now=now)
        existing = customer_for_email(email)
        if existing is not None:
            membership_add(site=site, user=existing, added_by=invited_by)
            audit.record(
                kind=AuditEntry.Kind.CUSTOMER_ADDED,
                site=site,
                actor=invited_by,
                summary=f"Site added to the customer account of {email}",
            )
        else:
            token = secrets.token_urlsafe(32)
            for earlier in Invitation.objects.open_to(site=site, email=email, now=now):
                invitation_revoke(invitation=earlier, revoked_by=invited_by, now=now)
            invitation = Invitation(
                site=site,
                email=email,
                token_hash=token_hash(token),
                invited_by=invited_by,
                created_at=now,
                expires_at=now + datetime.timedelta(days=settings.INVITATION_DAYS),
            )
            invitation.full_clean()
            invitation.save()
            audit.record(
                kind=AuditEntry.Kind.INVITATION_SENT,
                site=site,
                target=invitation,
                actor=invited_by,
                summary=f"Invitation emailed to {email}",
            )
    if existing is not None:
        link = link_base + reverse("xero:setup", args=[site.code])
        _send(
            "customers/email/site_added.txt",
            subject=f"Xero setup of {site.name}: added to your Warehouse account",
            email=existing.email or email,
            context={"site": site, "link": link, "invited_by": invited_by},
        )
        return None, link
    link = link_base + reverse("customers:accept", args=[token])
    _send(
        "customers/email/invitation.txt",
        subject=f"Set up Xero for {site.name} in the Warehouse",
        email=email,
        context={"site": site, "link": link, "invitation": invitation},
        about=invitation,
    )
    return invitation, link


def _invitation_limit_check(*, invited_by, now: datetime.datetime) -> None:
    """Raise ``InvitationLimitReached`` when ``invited_by`` sent ``INVITATIONS_PER_HOUR``
    in the last hour. Called inside the transaction that records the next one, after locking
    the inviter's row (PostgreSQL; SQLite's transactions hold the write lock from BEGIN), so
    that the count and the invitation it allows are one step."""
    User = get_user_model()
    list(User.objects.select_for_update().filter(pk=invited_by.pk).values_list("pk"))
    limit = settings.INVITATIONS_PER_HOUR
    hour_ago = now - datetime.timedelta(hours=1)
    # A Site added to an existing account at once counts as an invitation too.
    recent = (
        Invitation.objects.filter(invited_by=invited_by, created_at__gt=hour_ago).count()
        + Membership.objects.filter(added_by=invited_by, created_at__gt=hour_ago).count()
    )
    if recent >= limit:
        raise InvitationLimitReached(limit)


def _send(template: str, *, subject: str, email: str, context: dict, about=None) -> None:
    """One plain-text email through Django's email framework (the outbox: it is sent by a
    task, so the mail server being down never fails the caller). It carries a link, never
    a Key, Secret or certificate: those are entered and fetched in the Warehouse.
    ``about``: the invitation it sends, whose row on the Site's page says how sending went."""
    message = EmailMessage(
        subject, render_to_string(template, context), settings.DEFAULT_FROM_EMAIL, [email]
    )
    if about is not None:
        outbox_about(message, about)
    message.send()


def invitation_open(*, token: str, now=None) -> Invitation:
    """The open invitation whose link carries ``token``, or the error that says why not."""
    invitation = (
        Invitation.objects.select_related("site", "invited_by")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if invitation is None:
        raise InvitationUnknown
    state = invitation.state(now=_now(now))
    error = {
        Invitation.State.ACCEPTED: InvitationUsed,
        Invitation.State.REVOKED: InvitationRevoked,
        Invitation.State.EXPIRED: InvitationExpired,
    }.get(state)
    if error is not None:
        raise error(error.message + " " + error.fix.format(inviter=invitation.inviter_name))
    return invitation


def invitation_accept(*, token: str, password: str | None = None, account=None, now=None):
    """Accept the invitation of ``token``: make the customer account with ``password`` or,
    when the address has one already, add the Site to it, and use up the link.

    An existing account must be ``account``, the user its caller authenticated with that
    account's password (``forms.ExistingAccountForm``): a link alone never signs anyone in
    to an account that exists. Raises ``InvitationNeedsPassword`` otherwise.

    Everything happens in one transaction, after the invitation was locked: two tabs
    submitting the same link make one account, and a refused link makes none.
    """
    now = _now(now)
    try:
        with transaction.atomic():
            list(Invitation.objects.select_for_update().filter(token_hash=token_hash(token)))
            invitation = invitation_open(token=token, now=now)
            user = invitation_account(invitation=invitation)
            if user is None:
                if not password:
                    # A new account without a password could never sign in, and the link
                    # would be used up: the caller must pass the password the form asked for.
                    raise ValueError("A new customer account needs a password.")
                user = _customer_create(email=invitation.email, password=password)
            elif account is None or account.pk != user.pk:
                raise InvitationNeedsPassword
            membership_add(site=invitation.site, user=user, added_by=invitation.invited_by)
            invitation.accepted_at = now
            invitation.accepted_by = user
            invitation.save(update_fields=["accepted_at", "accepted_by"])
            audit.record(
                kind=AuditEntry.Kind.INVITATION_ACCEPTED,
                site=invitation.site,
                target=invitation,
                actor=user,
                summary=f"{invitation.email} accepted the invitation",
            )
    except InvitationForStaffAccount:
        # Rolled back with the rest: closed again now, outside the failed transaction.
        invitation_account(invitation=invitation_open(token=token, now=now))
        raise
    except InvitationAddressRefused:
        # No account can be made for the address: the link would fail the same way again.
        invitation_revoke(invitation=invitation_open(token=token, now=now), revoked_by=None)
        raise
    return invitation, user


def invitation_account(*, invitation: Invitation):
    """The customer account ``invitation``'s address has already, or ``None``.

    When the address is (in any form) a staff account's, the link can never work: the
    invitation is revoked rather than left open, and ``InvitationForStaffAccount`` says why.
    """
    try:
        return customer_for_email(invitation.email)
    except InvitationForStaffAccount:
        invitation_revoke(invitation=invitation, revoked_by=None)
        raise


def _customer_create(*, email: str, password: str):
    """A customer account: signs in with its email (accounts/backends.py); *Staff status*
    lets it through the admin's gate (active, second factor), where the customer fence keeps
    it to its own Sites.

    Its login name is made from the address (``username_for``): any valid address makes
    one that Django accepts (an apostrophe, a Kelvin sign), and a name already taken gets a
    number, since the name is never typed.
    """
    User = get_user_model()
    base = username_for(email)
    username, number = base, 1
    while User.objects.filter(username__iexact=username).exists():
        number += 1
        suffix = f"-{number}"
        username = base[: USERNAME_MAX_LENGTH - len(suffix)] + suffix
    user = User(username=username, email=email, is_staff=True)
    user.set_password(password)
    try:
        user.full_clean()
    except ValidationError as error:
        raise InvitationAddressRefused(email=email) from error
    user.save()
    user.groups.add(Group.objects.get(name=CUSTOMERS))
    return user


def invitation_revoke(*, invitation: Invitation, revoked_by, now=None) -> Invitation:
    """Withdraw an open invitation: its link then says so. Others are left as they are."""
    if invitation.state(now=_now(now)) == Invitation.State.OPEN:
        invitation.revoked_at = _now(now)
        invitation.revoked_by = revoked_by
        invitation.save(update_fields=["revoked_at", "revoked_by"])
        audit.record(
            kind=AuditEntry.Kind.INVITATION_REVOKED,
            site=invitation.site,
            target=invitation,
            actor=revoked_by,
            summary=f"Invitation of {invitation.email} revoked",
        )
    return invitation


def membership_remove(*, membership: Membership, removed_by, now=None) -> None:
    """Take ``membership``'s Site from its customer. The account stays, with their other
    Sites or none (then their home page says so); their open invitations to the Site are
    revoked too, so that no link still in their mailbox gives it back."""
    now = _now(now)
    site, email = membership.site, membership.customer_name
    with transaction.atomic():
        for invitation in Invitation.objects.open_to(site=site, email=email, now=now):
            invitation_revoke(invitation=invitation, revoked_by=removed_by, now=now)
        membership.delete()
        audit.record(
            kind=AuditEntry.Kind.CUSTOMER_REMOVED,
            site=site,
            actor=removed_by,
            summary=f"{email} removed from the Site's customers; their account stays",
        )
