"""Reads of customer accounts: what a Site's page shows of its customers and invitations."""

from django.db.models import Exists, OuterRef, QuerySet

from outbox.selectors import latest_states
from sites.models import Site

from .access import customer_sites, page_flags
from .forms import InvitationForm
from .models import Invitation, Membership

# How many invitations a Site's page lists (newest first).
INVITATIONS_SHOWN = 20


def site_customers_context(request, site: Site) -> dict:
    """The Site page's *Customers* panel: who has access, the invitations, the invite form."""
    invitations = list(
        Invitation.objects.filter(site=site).select_related("invited_by")[:INVITATIONS_SHOWN]
    )
    emails = latest_states(invitations)
    for invitation in invitations:
        # How the sending of its email went (outbox/): none when sent before the outbox.
        invitation.email_sending = emails.get(invitation.pk)
    return {
        "customer_memberships": list(
            Membership.objects.filter(site=site).select_related("user", "added_by")
        ),
        "invitations": invitations,
        "invitation_form": InvitationForm(),
        "can_invite": page_flags(request.user, site)["can_invite"],
    }


def membership_removal_context(*, membership: Membership) -> dict:
    """What removing ``membership`` does, for the page that asks first: how many Sites the
    customer keeps, and how many of their open invitations to this Site are revoked with it."""
    return {
        "membership": membership,
        "sites_kept": customer_sites(membership.user).exclude(pk=membership.site_id).count(),
        "invitations_revoked": Invitation.objects.open_to(
            site=membership.site, email=membership.customer_name
        ).count(),
    }


def waiting_for_customer(sites: QuerySet[Site], *, passed_tests: QuerySet) -> QuerySet[Site]:
    """The Sites whose customer was invited and no connection test has passed since.

    ``passed_tests`` are the passed tests, with a ``site`` and a ``started_at`` (the Xero app
    gives its own: ``sites`` and ``customers`` never import it).
    """
    invited = Invitation.objects.filter(site=OuterRef("pk"), revoked_at__isnull=True)
    # Inside the tests' subquery, so the Site is two levels out.
    latest = (
        Invitation.objects.filter(site=OuterRef(OuterRef("pk")), revoked_at__isnull=True)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    return sites.filter(Exists(invited)).exclude(
        Exists(passed_tests.filter(site=OuterRef("pk"), started_at__gte=latest))
    )
