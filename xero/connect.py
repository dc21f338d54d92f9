"""The "Connect to Xero" flow as small services: start, callback, choose, disconnect.

Views only call these. ``store`` is the browser's session (any dict-like object): the
``state`` sent to Xero lives there, bound to the Site, with the PKCE verifier and the
OpenID Connect ``nonce`` (which the id_token must carry back), and is
taken out when Xero's answer comes back, so an answer is used once, in the browser that
asked for it, within ``STATE_LIFETIME``. Until every check passed nothing is stored; a
failure raises the outcome that a plain page shows. The one exception is a consent that
added several organisations: its tokens are stored (encrypted, as the Xero user's token
set) before the user chooses, because the session is no place for them; a choice never
made leaves that token set in place of the user's earlier one, which is as good.
"""

import datetime
import logging
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from customers.access import is_customer
from sites.models import Site

from . import audit, client, exceptions, tiers, values, web_app
from .certificates import APPLICATION_NAME
from .models import CircuitBreaker, ReplacedToken, TenantBinding, TokenSet, UnboundConnection

logger = logging.getLogger(__name__)

STATE_LIFETIME = datetime.timedelta(minutes=10)
# At most this many connections started and not finished per browser session.
MAX_PENDING = 5
PENDING_KEY = "xero_connect"
CHOICE_KEY = "xero_connect_choice"


def connect_start(*, site: Site, store, redirect_uri: str, now=None) -> str:
    """Begin connecting ``site``: remember a state and a PKCE verifier in ``store``; return
    the address of Xero's consent page."""
    now = now or timezone.now()
    if site.connection_type != Site.ConnectionType.WEB_APP:
        raise exceptions.WrongConnectionType(connection_type=site.get_connection_type_display())
    web_app.app_credentials()
    # Past the tier's cap Xero would refuse the connection: say so before sending anyone.
    tiers.check_room(site=site)
    verifier, challenge = web_app.new_pkce_pair()
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    pending = dict(store.get(PENDING_KEY) or {})
    pending[state] = {
        "site": site.pk,
        "verifier": verifier,
        "nonce": nonce,
        "redirect_uri": redirect_uri,
        "at": now.timestamp(),
    }
    # The oldest unfinished attempts make way: a session never grows without bound.
    store[PENDING_KEY] = dict(sorted(pending.items(), key=lambda kv: kv[1]["at"])[-MAX_PENDING:])
    return web_app.authorize_url(
        redirect_uri=redirect_uri,
        state=state,
        code_challenge=challenge,
        scopes=web_app.scopes_for(payroll=site.payroll_enabled),
        nonce=nonce,
    )


@dataclass(frozen=True)
class CallbackResult:
    """What the callback did: bound ``binding``, or needs the user to pick from ``choices``."""

    site: Site
    binding: TenantBinding | None = None
    choices: tuple = ()
    # Replaced refresh tokens Xero did not confirm revoking: the caller queues the task
    # that tries again (``tasks.revoke_replaced_tokens``).
    revocations_pending: int = 0


def connect_callback(
    *, params, store, sites: QuerySet[Site], user=None, now=None
) -> CallbackResult:
    """Handle Xero's redirect back (``params`` is its query string).

    Checks the state, exchanges the code with the PKCE verifier, reads the organisations
    this consent added (matched on ``authEventId``) and binds the Site to its one
    organisation; when the consent added several, or one that is not the organisation the
    Site reached until now, they are offered to choose from (naming the one it reached).
    ``sites`` are those the user may connect now: a state for any other Site (deleted, or a
    customer's no longer) is refused like a made-up one, before Xero is asked anything.
    """
    now = now or timezone.now()
    pending = _take_pending(store, str(params.get("state") or ""), now=now)
    site = sites.filter(pk=pending["site"]).first()
    if site is None:
        raise state_invalid()
    try:
        return _finish(site=site, pending=pending, params=params, store=store, user=user, now=now)
    except exceptions.XeroError as error:
        error.site = site  # so the page can lead back to the Site's setup
        raise


def _finish(*, site, pending, params, store, user, now) -> CallbackResult:
    error = str(params.get("error") or "")
    if error == "access_denied":
        raise exceptions.ConsentRefused(site=site.name)
    if error:
        raise exceptions.ConsentFailed(problem=error[:100])
    code = str(params.get("code") or "")
    if not code:
        raise exceptions.ConnectCodeInvalid()
    session = client.XeroSession(site=site)
    tokens = web_app.exchange_code(
        session=session,
        code=code,
        redirect_uri=pending["redirect_uri"],
        code_verifier=pending["verifier"],
        # A state stored before nonces were sent has none: its id_token fails the check.
        nonce=pending.get("nonce") or "",
        now=now,
    )
    if not tokens.xero_user_id:
        raise exceptions.UnexpectedResponse(received="a token that names no Xero user")
    connections = web_app.read_connections(
        session=session, access_token=tokens.access_token, auth_event_id=tokens.auth_event_id
    )
    if not connections:
        raise exceptions.ConnectNoOrganisation()
    previous = TenantBinding.objects.filter(site=site).first()
    # Connecting again must bring back the same organisation: a consent that reaches
    # another one asks first (the choose page names both), never swaps it silently.
    other = previous is not None and connections[0].tenant_id != previous.tenant_id
    if len(connections) == 1 and not other:
        _check_tenant_free(site=site, connection=connections[0], user=user)
        token_set = _token_set_save(tokens=tokens, user=user, now=now)
        binding = _bind(site=site, token_set=token_set, connection=connections[0], user=user)
        unrevoked = replaced_tokens_revoke(
            session=session, xero_user_id=tokens.xero_user_id, now=now
        )
        return CallbackResult(site=site, binding=binding, revocations_pending=unrevoked)
    token_set = _token_set_save(tokens=tokens, user=user, now=now)
    _unbound_record(token_set=token_set, connections=connections, now=now)
    unrevoked = replaced_tokens_revoke(session=session, xero_user_id=tokens.xero_user_id, now=now)
    store[CHOICE_KEY] = {
        "site": site.pk,
        "token_set": token_set.pk,
        "at": now.timestamp(),
        "choices": [[c.id, c.tenant_id, c.tenant_name, c.auth_event_id] for c in connections],
        "replacing": (previous.tenant_name or previous.tenant_id) if previous else "",
    }
    return CallbackResult(site=site, choices=tuple(connections), revocations_pending=unrevoked)


def _unbound_record(*, token_set, connections, now) -> None:
    """The organisations this consent connected that no Site uses (yet): they count
    against the tier's cap until one is chosen or they are disconnected."""
    bound = set(
        TenantBinding.objects.filter(tenant_id__in=[c.tenant_id for c in connections]).values_list(
            "tenant_id", flat=True
        )
    )
    for connection in connections:
        if connection.tenant_id not in bound:
            UnboundConnection.objects.update_or_create(
                tenant_id=connection.tenant_id,
                defaults={
                    "token_set": token_set,
                    "tenant_name": connection.tenant_name,
                    "connection_id": connection.id,
                    "seen_at": now,
                },
            )


def pending_choice(*, site: Site, store, now=None) -> tuple:
    """The organisations the user may choose from for ``site``, or ``()``."""
    now = now or timezone.now()
    choice = store.get(CHOICE_KEY) or {}
    if choice.get("site") != site.pk or now.timestamp() - choice.get("at", 0) > _lifetime():
        return ()
    return tuple(web_app.XeroConnection(*row) for row in choice.get("choices", []))


@dataclass(frozen=True)
class Chosen:
    """What choosing did: bound ``binding``; disconnected in Xero the organisations named in
    ``disconnected``; ``warning`` names those Xero did not confirm disconnecting."""

    binding: TenantBinding
    disconnected: tuple[str, ...] = ()
    warning: str = ""


def pending_replacing(*, site: Site, store) -> str:
    """The organisation ``site`` reaches now, when the pending choice would replace it."""
    choice = store.get(CHOICE_KEY) or {}
    return str(choice.get("replacing") or "") if choice.get("site") == site.pk else ""


def connect_choose(*, site: Site, tenant_id: str, store, user=None, now=None) -> Chosen:
    """Bind ``site`` to the organisation the user chose among those the consent added, and
    disconnect the others from the Warehouse's app in Xero (Xero counts, and prices, every
    organisation connected to it), unless another Site uses one."""
    now = now or timezone.now()
    choices = pending_choice(site=site, store=store, now=now)
    if not choices:
        raise state_invalid()
    connection = next((c for c in choices if c.tenant_id == tenant_id), None)
    if connection is None:
        raise exceptions.TenantNotOffered()
    token_set = TokenSet.objects.filter(pk=store[CHOICE_KEY]["token_set"]).first()
    if token_set is None:
        raise state_invalid()
    binding = _bind(site=site, token_set=token_set, connection=connection, user=user)
    store.pop(CHOICE_KEY, None)
    others = [c for c in choices if c.tenant_id != connection.tenant_id]
    used = set(
        TenantBinding.objects.filter(tenant_id__in=[c.tenant_id for c in others]).values_list(
            "tenant_id", flat=True
        )
    )
    disconnected, left = _connections_delete(
        site=site,
        token_set=token_set,
        connections=[c for c in others if c.tenant_id not in used],
        now=now,
    )
    if disconnected:
        gone = {c.tenant_name or c.tenant_id: c.tenant_id for c in others}
        UnboundConnection.objects.filter(
            tenant_id__in=[gone[name] for name in disconnected if name in gone]
        ).delete()
    warning = ""
    if left:
        warning = (
            f"Xero did not confirm disconnecting {', '.join(left)}: in Xero, open Settings → "
            f"Connected apps and remove {APPLICATION_NAME} from "
            f"{'it' if len(left) == 1 else 'them'}."
        )
    return Chosen(binding=binding, disconnected=tuple(disconnected), warning=warning)


def _connections_delete(*, site, token_set, connections, now) -> tuple[list[str], list[str]]:
    """Delete ``connections`` in Xero with ``token_set``; the names of the organisations
    disconnected, and of those Xero did not confirm."""
    names = [c.tenant_name or c.tenant_id for c in connections]
    if not connections:
        return [], []
    session = client.XeroSession(site=site)
    try:
        access_token = web_app.access_token(token_set=token_set, session=session, now=now)
    except exceptions.XeroError as error:
        logger.warning(
            "Unchosen organisations of site %s not disconnected: %s", site.code, error.code
        )
        return [], names
    done, left = [], []
    for connection, name in zip(connections, names, strict=True):
        try:
            web_app.delete_connection(
                session=session, access_token=access_token, connection_id=connection.id
            )
        except exceptions.XeroError as error:
            logger.warning(
                "Connection %s of site %s not deleted: %s", connection.id, site.code, error.code
            )
            left.append(name)
        else:
            done.append(name)
    return done, left


def sites_sharing_consent(*, binding: TenantBinding) -> QuerySet[Site]:
    """The other Sites connected through ``binding``'s token set: while there are any,
    disconnecting this Site leaves the consent (and their access) in place."""
    return Site.objects.filter(xero_tenant__token_set=binding.token_set_id).exclude(
        pk=binding.site_id
    )


@dataclass(frozen=True)
class Disconnected:
    revoked: bool
    warning: str = ""


def connect_disconnect(*, site: Site, now=None) -> Disconnected:
    """Disconnect ``site``: remove its connection in Xero, revoke the token set when no
    other Site uses it, and clear the binding.

    A token set Xero already refuses (``reconnect_needed``) cannot remove anything in Xero
    any more: the binding is cleared all the same, and the answer says to remove the app in
    Xero by hand.
    """
    now = now or timezone.now()
    binding = TenantBinding.objects.select_related("token_set").filter(site=site).first()
    if binding is None:
        raise exceptions.NotConnected()
    token_set = binding.token_set
    session = client.XeroSession(site=site)
    warning = ""
    try:
        access_token = web_app.access_token(token_set=token_set, session=session, now=now)
    except exceptions.ReconnectNeeded:
        access_token = None
        warning = (
            "Xero no longer accepted this Site's connection, so it could not be removed "
            "there: in Xero, open Settings → Connected apps and remove ImagatecAPI."
        )
    if access_token is not None:
        web_app.delete_connection(
            session=session, access_token=access_token, connection_id=binding.connection_id
        )
    revoked = False
    with transaction.atomic():
        unused = not sites_sharing_consent(binding=binding).exists()
        binding.delete()
        Site.objects.filter(pk=site.pk).update(xero_organisation_name="")
    if unused:
        try:
            if access_token is not None:
                web_app.revoke(session=session, refresh_token=token_set.refresh_token)
                revoked = True
        except exceptions.ConnectionTestFailed as error:
            warning = (
                "The Site is disconnected, but Xero did not confirm revoking its access "
                f"({error.code}); unused, it lapses after 60 days."
            )
            logger.warning("Revoking token set %s failed: %s", token_set.pk, error.code)
        else:
            TokenSet.objects.filter(pk=token_set.pk, bindings__isnull=True).delete()
    audit.record_disconnected(site=site, binding=binding, revoked=revoked, shared=not unused)
    site.xero_organisation_name = ""
    return Disconnected(revoked=revoked, warning=warning)


# A failed revocation is tried again after 1, 2, 4… minutes, at most this far apart; a
# refresh token unused for 60 days is dead at Xero anyway, so its row goes then.
REVOKE_RETRY_MAX = datetime.timedelta(hours=6)
REFRESH_TOKEN_LIFETIME = datetime.timedelta(days=60)


def replaced_tokens_revoke(*, session=None, xero_user_id: str | None = None, now=None) -> int:
    """Revoke at Xero (RFC 7009) the replaced refresh tokens that are due (of
    ``xero_user_id`` only, given), each in its own short write; return how many are left
    to try again (``replaced_tokens_next_attempt`` says when).

    Runs after the new pair is stored and committed: a failure here never touches it.
    """
    now = now or timezone.now()
    ReplacedToken.objects.filter(replaced_at__lt=now - REFRESH_TOKEN_LIFETIME).delete()
    due = ReplacedToken.objects.filter(next_attempt_at__lte=now)
    if xero_user_id is not None:
        due = due.filter(xero_user_id=xero_user_id)
    for replaced in due:
        try:
            web_app.revoke(
                session=session or client.XeroSession(), refresh_token=replaced.refresh_token
            )
        except exceptions.XeroError as error:
            attempts = replaced.attempts + 1
            wait = min(datetime.timedelta(minutes=2 ** min(attempts - 1, 10)), REVOKE_RETRY_MAX)
            ReplacedToken.objects.filter(pk=replaced.pk).update(
                attempts=attempts, last_failure=error.code[:40], next_attempt_at=now + wait
            )
            logger.warning(
                "Revoking a replaced refresh token (Xero user %s) failed: %s",
                replaced.xero_user_id,
                error.code,
            )
        else:
            ReplacedToken.objects.filter(pk=replaced.pk).delete()
            logger.info("Revoked a replaced refresh token of Xero user %s", replaced.xero_user_id)
    left = ReplacedToken.objects.all()
    if xero_user_id is not None:
        left = left.filter(xero_user_id=xero_user_id)
    return left.count()


def replaced_tokens_next_attempt() -> datetime.datetime | None:
    """When the next replaced refresh token is due to be revoked, or None if none is left."""
    first = ReplacedToken.objects.order_by("next_attempt_at").first()
    return first.next_attempt_at if first else None


def _take_pending(store, state: str, *, now) -> dict:
    pending = dict(store.get(PENDING_KEY) or {})
    entry = pending.pop(state, None) if state else None
    store[PENDING_KEY] = pending
    if entry is None or now.timestamp() - entry.get("at", 0) > _lifetime():
        raise state_invalid()
    return entry


def _lifetime() -> float:
    return STATE_LIFETIME.total_seconds()


def state_invalid():
    return exceptions.ConnectStateInvalid(minutes=int(_lifetime() // 60))


def _check_tenant_free(*, site: Site, connection, user) -> None:
    other = (
        TenantBinding.objects.filter(tenant_id=connection.tenant_id)
        .exclude(site=site)
        .select_related("site")
        .first()
    )
    if other is not None:
        raise _tenant_taken(connection=connection, other=other.site.name, user=user)


def _tenant_taken(*, connection, other: str, user) -> exceptions.TenantTaken:
    """The refusal of an organisation bound elsewhere: Staff learn which Site holds it; a
    customer (or an unknown user) is not told another customer's Site."""
    organisation = connection.tenant_name or "This organisation"
    if user is None or is_customer(user):
        return exceptions.TenantTakenElsewhere(organisation=organisation)
    return exceptions.TenantTaken(organisation=organisation, other=other)


def _token_set_save(*, tokens, user, now) -> TokenSet:
    """Store the consent's tokens once per Xero user: a new consent of theirs replaces the
    pair, and the replaced refresh token is kept (``ReplacedToken``, in the same
    transaction) to be revoked once the new pair is stored (``replaced_tokens_revoke``)."""
    fields = {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "access_token_expires_at": tokens.expires_at,
        "refresh_token_issued_at": now,
        "scopes": tokens.scopes,
        # From Xero's id_token: fitted like every value Xero sends (no NUL, no controls).
        "xero_user_name": values.text(tokens.identity.get("name"), 255),
        "xero_user_email": values.text(tokens.identity.get("email"), 254),
        "connected_by": user,
        "connected_at": now,
        "last_refreshed_at": None,
        "refresh_failure": "",
        "refresh_failed_at": None,
    }
    with transaction.atomic():
        token_set = (
            TokenSet.objects.select_for_update().filter(xero_user_id=tokens.xero_user_id).first()
        )
        if token_set is None:
            token_set = TokenSet(xero_user_id=tokens.xero_user_id)
        elif token_set.refresh_token and token_set.refresh_token != tokens.refresh_token:
            ReplacedToken.objects.create(
                refresh_token=token_set.refresh_token,
                xero_user_id=token_set.xero_user_id,
                replaced_at=now,
                next_attempt_at=now,
            )
        for name, value in fields.items():
            setattr(token_set, name, value)
        token_set.full_clean()
        token_set.save()
    return token_set


def _bind(*, site: Site, token_set: TokenSet, connection, user) -> TenantBinding:
    _check_tenant_free(site=site, connection=connection, user=user)
    try:
        with transaction.atomic():
            binding, _ = TenantBinding.objects.update_or_create(
                site=site,
                defaults={
                    "token_set": token_set,
                    "tenant_id": connection.tenant_id,
                    "tenant_name": connection.tenant_name,
                    "connection_id": connection.id,
                    "connected_by": user,
                    "connected_at": timezone.now(),
                },
            )
            Site.objects.filter(pk=site.pk).update(xero_organisation_name=connection.tenant_name)
            audit.record_connected(site=site, binding=binding, user=user)
            # Someone acted: a circuit-broken Site is tested hourly again.
            CircuitBreaker.objects.filter(site=site).delete()
            UnboundConnection.objects.filter(tenant_id=connection.tenant_id).delete()
    except IntegrityError:
        # Another Site took the organisation between the check and the write.
        raise _tenant_taken(connection=connection, other="another Site", user=user) from None
    site.xero_organisation_name = connection.tenant_name
    logger.info("Site %s connected to a Xero organisation", site.code)
    try:
        tiers.tier_review()
    except Exception:
        # The connection stands; the warning is tried again at the next one.
        logger.exception("Could not review the Xero app's tier")
    return binding
