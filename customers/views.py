"""Thin views: invite, revoke and remove a customer (Staff, Admins, Support), accept a link,
a customer's Sites."""

from django.contrib import admin, messages
from django.contrib.auth import login
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from warehouse.sudo import fresh_second_factor_required

from .access import Action, customer_sites, site_for
from .exceptions import InvitationError
from .forms import AcceptInvitationForm, ExistingAccountForm, InvitationForm
from .models import Invitation, Membership
from .selectors import membership_removal_context
from .services import (
    invitation_accept,
    invitation_account,
    invitation_create,
    invitation_open,
    invitation_revoke,
    membership_remove,
)


def _site_page(site):
    return redirect(reverse("admin:sites_site_change", args=[site.pk]) + "#customers")


@require_POST
@fresh_second_factor_required
def invite_view(request, code):
    site = site_for(request.user, code, Action.INVITE)
    form = InvitationForm(request.POST)
    if not form.is_valid():
        for error in form.errors["email"]:
            messages.error(request, str(error))
        return _site_page(site)
    email = form.cleaned_data["email"]
    try:
        invitation, _link = invitation_create(
            site=site,
            email=email,
            invited_by=request.user,
            link_base=request.build_absolute_uri("/").rstrip("/"),
        )
    except InvitationError as error:
        messages.error(request, error.message)
        return _site_page(site)
    if invitation is None:
        messages.success(
            request, f"{email} already has a customer account: {site.name} was added to it."
        )
    else:
        messages.success(
            request,
            f"Invitation emailed to {email}: the email is on its way (the invitations below say "
            "when it is sent, or if it fails). The link works once, until "
            f"{invitation.expires_at:%d %b %Y %H:%M} UTC.",
        )
    return _site_page(site)


@require_POST
def revoke_view(request, code, pk):
    site = site_for(request.user, code, Action.INVITE)
    invitation = get_object_or_404(Invitation, site=site, pk=pk)
    invitation_revoke(invitation=invitation, revoked_by=request.user)
    messages.success(request, f"The invitation of {invitation.email} was revoked.")
    return _site_page(site)


@require_http_methods(["GET", "POST"])
def remove_view(request, code, pk):
    """GET asks first, saying what removing the customer does; POST (from that page) removes
    their access to the Site. Whoever may invite may remove."""
    site = site_for(request.user, code, Action.INVITE)
    membership = get_object_or_404(Membership.objects.select_related("user"), site=site, pk=pk)
    name = membership.customer_name
    if request.method == "GET":
        context = {
            **admin.site.each_context(request),
            "title": f"Remove {name} from {site.name}?",
            "site": site,
            **membership_removal_context(membership=membership),
        }
        return render(request, "customers/remove_confirm.html", context)
    membership_remove(membership=membership, removed_by=request.user)
    messages.success(request, f"Removed {name}'s access to {site.name}; their account stays.")
    return _site_page(site)


def _problem(request, error: InvitationError):
    """A plain page saying what is wrong with the link and who to ask; nothing else."""
    context = {**admin.site.each_context(request), "title": "Invitation", "error": error}
    return render(request, "customers/invitation_problem.html", context, status=error.status)


@never_cache
@require_http_methods(["GET", "POST"])
def accept_view(request, token):
    """The invitation link: choose a password, then on to the Site's setup page (through the
    second factor's enrolment first, when the admin's gate requires one)."""
    try:
        invitation = invitation_open(token=token)
        account = invitation_account(invitation=invitation)
    except InvitationError as error:
        return _problem(request, error)
    form: AcceptInvitationForm | ExistingAccountForm
    if account is None:
        form = AcceptInvitationForm(request.POST or None, email=invitation.email)
    else:
        # The address has an account already: the link alone signs no one in to it.
        form = ExistingAccountForm(request.POST or None, request=request, account=account)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, user = invitation_accept(
                token=token,
                password=form.cleaned_data.get("password1"),
                account=getattr(form, "account", None),
            )
        except InvitationError as error:
            return _problem(request, error)
        login(request, user, backend="accounts.backends.EmailAddressBackend")
        return redirect("xero:setup", code=invitation.site.code)
    context = {
        **admin.site.each_context(request),
        "title": f"Set up Xero for {invitation.site.name}",
        "invitation": invitation,
        "form": form,
        "has_account": account is not None,
    }
    return render(request, "customers/accept.html", context)


@require_GET
def home_view(request):
    """A customer's Sites; with one Site, straight to its setup page."""
    sites = list(customer_sites(request.user))
    if len(sites) == 1:
        return redirect("xero:setup", code=sites[0].code)
    context = {**admin.site.each_context(request), "title": "Your Sites", "sites": sites}
    return render(request, "customers/home.html", context)
