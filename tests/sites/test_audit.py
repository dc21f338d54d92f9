"""The audit trail (sites/audit.py): every path that creates, changes or deletes a Site is
recorded with who, when, from where and each field old -> new; secrets only as markers."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from sites import audit
from sites.models import AuditEntry, Site
from sites.roles import ADMINS, STAFF, SUPPORT
from tests.conftest import CONSUMER_KEY, CONSUMER_SECRET, assert_secret_not_recorded
from warehouse import signals

Kind = AuditEntry.Kind
NEW_KEY = "AB7KJ1M2N3B4V5C6X7Z8L9K0J1H2ZZ"
NEW_SECRET = "NEWSECRETZ9Y8X7W6V5U4T3S2R1Q0P9"


def latest(**filters) -> AuditEntry:
    return AuditEntry.objects.filter(**filters).order_by("-timestamp", "-pk").first()


def texts(entry) -> list[str]:
    return [line["text"] for line in entry.change_lines()]


def test_admin_change_form_records_user_ip_and_each_field_with_the_secret_as_changed(
    client_for, site
):
    client = client_for("staff")
    response = client.post(
        reverse("admin:sites_site_change", args=[site.pk]),
        {
            "connection_type": "private_app",
            "api_key": NEW_KEY,
            "new_api_secret": NEW_SECRET,
            "payroll_enabled": "on",
        },
    )
    assert response.status_code == 302
    entry = latest(site_pk=site.pk, kind=Kind.SITE_CHANGED)
    assert entry.actor_username.startswith("staff-")
    assert entry.remote_addr == "127.0.0.1"
    assert entry.via == "web"
    assert f"Xero API Key: {CONSUMER_KEY} → {NEW_KEY}" in texts(entry)
    assert "Xero API Secret: changed" in texts(entry)
    assert entry.changes["api_secret"] == [audit.SECRET, audit.SECRET]
    assert_secret_not_recorded(CONSUMER_SECRET, NEW_SECRET)


def test_admin_add_form_records_the_new_site_with_its_secret_as_set(client_for):
    client_for("admins").post(
        reverse("admin:sites_site_add"),
        {
            "name": "Beta Pty Ltd",
            "code": "beta",
            "connection_type": "private_app",
            "api_key": CONSUMER_KEY,
            "new_api_secret": CONSUMER_SECRET,
            "payroll_enabled": "on",
        },
    )
    site = Site.objects.get(code="beta")
    entry = latest(site_pk=site.pk, kind=Kind.SITE_CREATED)
    assert entry.site_code == "beta" and entry.site_name == "Beta Pty Ltd"
    assert f"Xero API Key: (empty) → {CONSUMER_KEY}" in texts(entry)
    assert "Xero API Secret: set" in texts(entry)
    assert_secret_not_recorded(CONSUMER_SECRET)


def test_setup_page_save_is_recorded(client_for, site):
    client_for("staff").post(
        reverse("xero:setup", args=[site.code]),
        {"api_key": NEW_KEY, "new_api_secret": NEW_SECRET, "payroll_enabled": "on"},
    )
    entry = latest(site_pk=site.pk, kind=Kind.SITE_CHANGED)
    assert entry.via == "web" and entry.remote_addr == "127.0.0.1"
    assert set(texts(entry)) == {
        f"Xero API Key: {CONSUMER_KEY} → {NEW_KEY}",
        "Xero API Secret: changed",
    }
    assert_secret_not_recorded(CONSUMER_SECRET, NEW_SECRET)


def test_switch_button_is_recorded_with_the_cleared_key_and_secret(client_for, site):
    client_for("staff").post(reverse("xero:switch_to_custom_connection", args=[site.code]))
    entry = latest(site_pk=site.pk, kind=Kind.SITE_CHANGED)
    assert f"Xero API Key: {CONSUMER_KEY} → (empty)" in texts(entry)
    assert "Xero API Secret: cleared" in texts(entry)
    assert (
        "Connection type: Private application (OAuth 1.0a, retired by Xero) → "
        "Custom Connection (OAuth 2.0)"
    ) in texts(entry)
    assert entry.actor_username.startswith("staff-")
    assert_secret_not_recorded(CONSUMER_SECRET)


def test_orm_save_outside_a_request_names_the_process(site):
    site.api_secret = NEW_SECRET
    site.save()
    entry = latest(site_pk=site.pk, kind=Kind.SITE_CHANGED)
    assert entry.actor is None and entry.remote_addr is None
    assert entry.via.startswith("process ")
    assert texts(entry) == ["Xero API Secret: changed"]
    assert_secret_not_recorded(CONSUMER_SECRET, NEW_SECRET)


def test_queryset_update_is_recorded_per_site(site, make_site):
    other = make_site(api_key=NEW_KEY)
    count = Site.objects.filter(pk__in=[site.pk, other.pk]).update(
        name="Renamed", api_secret=NEW_SECRET
    )
    assert count == 2
    for changed in (site, other):
        entry = latest(site_pk=changed.pk, kind=Kind.SITE_CHANGED)
        assert any(text.endswith("→ Renamed") for text in texts(entry))
        assert "Xero API Secret: " + ("changed" if changed == site else "set") in texts(entry)
        assert entry.site_name == "Renamed"
    assert_secret_not_recorded(CONSUMER_SECRET, NEW_SECRET)


def test_an_update_that_changes_nothing_records_nothing(site):
    before = AuditEntry.objects.count()
    Site.objects.filter(pk=site.pk).update(name=site.name)
    assert AuditEntry.objects.count() == before


def test_a_command_is_named_as_the_origin(site):
    from sites.management.commands import rotate_encryption_keys  # noqa: F401

    with audit.via("manage.py something"):
        site.api_key = NEW_KEY
        site.save()
    assert latest(site_pk=site.pk, kind=Kind.SITE_CHANGED).via == "manage.py something"


def test_rotate_encryption_keys_records_one_reencryption_row_per_site_and_no_value(
    site, make_site, settings
):
    from cryptography.fernet import Fernet

    empty = make_site(name="No secret")
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    entry = latest(site_pk=site.pk, kind=Kind.SECRETS_REENCRYPTED)
    assert entry.via == "manage.py rotate_encryption_keys"
    assert texts(entry) == ["Xero API Secret: changed"]
    assert "did not change" in entry.summary
    assert not AuditEntry.objects.filter(site_pk=site.pk, kind=Kind.SITE_CHANGED).exists()
    assert not AuditEntry.objects.filter(site_pk=empty.pk, kind=Kind.SECRETS_REENCRYPTED).exists()
    assert_secret_not_recorded(CONSUMER_SECRET)


def test_logins_and_failed_logins_are_recorded_without_the_password(client, make_user):
    user = make_user(SUPPORT)
    client.post(
        reverse("admin:login"), {"username": user.username, "password": "wrong-password-42"}
    )
    failed = latest(kind=Kind.LOGIN_FAILED)
    assert user.username in failed.summary and failed.remote_addr == "127.0.0.1"
    assert "wrong-password-42" not in failed.summary
    client.post(reverse("admin:login"), {"username": user.username, "password": "pw-for-tests-1"})
    login = latest(kind=Kind.LOGIN)
    assert login.actor_id == user.pk and login.actor_username == user.username
    assert login.remote_addr == "127.0.0.1"
    assert "wrong-password-42" not in __import__("tests.conftest").conftest.audit_rows_text()


def test_second_factor_enrolments_and_resets_are_recorded(make_user):
    user = make_user(STAFF)
    admin = make_user(ADMINS)
    signals.second_factor_enrolled.send(sender=None, user=user, by=user)
    signals.second_factor_reset.send(sender=None, user=user, by=admin)
    enrolled = latest(kind=Kind.SECOND_FACTOR_ENROLLED)
    reset = latest(kind=Kind.SECOND_FACTOR_RESET)
    assert enrolled.actor_username == user.username
    assert reset.actor_username == admin.username
    assert f"for {user.username} by {admin.username}" in reset.summary


def test_five_wrong_passwords_are_recorded_as_failures_then_one_lockout(client, make_user):
    user = make_user(STAFF)
    for _ in range(5):
        client.post(reverse("admin:login"), {"username": user.username, "password": "nope-123"})
    locked = AuditEntry.objects.get(kind=Kind.LOCKED_OUT)
    assert f"'{user.username}'" in locked.summary and locked.remote_addr == "127.0.0.1"
    assert AuditEntry.objects.filter(kind=Kind.LOGIN_FAILED).count() >= 4
    assert "nope-123" not in __import__("tests.conftest").conftest.audit_rows_text()


# The proxy trusted (TRUSTED_PROXY_IPS, warehouse/production.py) connects from 127.0.0.1.
PROXY = ["127.0.0.1"]


@pytest.mark.parametrize(
    ("proxy", "forwarded", "remote", "expected"),
    [
        ([], "203.0.113.9", "127.0.0.1", "127.0.0.1"),
        (PROXY, "198.51.100.7, 203.0.113.9", "127.0.0.1", "203.0.113.9"),
        (PROXY, "not-an-address", "127.0.0.1", None),
        ([], "", "garbage", None),
        (PROXY, "2001:db8::1", "127.0.0.1", "2001:db8::1"),
    ],
)
def test_the_client_address_is_the_proxys_entry_only_behind_the_proxy(
    rf, settings, proxy, forwarded, remote, expected
):
    settings.TRUSTED_PROXY_IPS = proxy
    request = rf.get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)
    assert audit.client_address(request) == expected


def test_a_forged_forwarded_header_does_not_break_a_save(client_for, site, settings):
    settings.TRUSTED_PROXY_IPS = PROXY
    client = client_for("staff")
    response = client.post(
        reverse("xero:setup", args=[site.code]),
        {"api_key": NEW_KEY, "payroll_enabled": "on"},
        HTTP_X_FORWARDED_FOR="<script>, ::zz",
    )
    assert response.status_code == 302
    assert latest(site_pk=site.pk, kind=Kind.SITE_CHANGED).remote_addr is None


def test_change_lines_never_show_a_marker_as_a_value():
    entry = AuditEntry(changes={"api_secret": ["", audit.SECRET], "name": ["A", "B"]})
    assert texts(entry) == ["Name: A → B", "Xero API Secret: set"]


def test_a_change_made_in_manage_py_shell_names_the_shell(site):
    call_command(
        "shell",
        command=(
            "from sites.models import Site; s = Site.objects.get(code='acme'); "
            f"s.api_secret = '{NEW_SECRET}'; s.name = 'Shell Co'; s.save()"
        ),
    )
    entry = latest(site_pk=site.pk, kind=Kind.SITE_CHANGED)
    assert entry.via == "manage.py shell"
    assert set(texts(entry)) == {"Name: Acme Pty Ltd → Shell Co", "Xero API Secret: changed"}
    assert_secret_not_recorded(CONSUMER_SECRET, NEW_SECRET)


def test_a_user_given_a_role_or_superuser_status_is_recorded_but_not_a_sign_in(
    client_for, make_user
):
    kim = make_user(STAFF)
    client_for("superuser")  # an admin session is the origin of what follows

    kim.groups.add(Group.objects.get(name=ADMINS))
    kim.is_superuser = True
    kim.save()
    before = AuditEntry.objects.filter(kind=Kind.USER_CHANGED).count()
    kim.last_login = timezone.now()
    kim.save(update_fields=["last_login"])

    rows = AuditEntry.objects.filter(kind=Kind.USER_CHANGED, object_pk=str(kim.pk))
    lines = [line for row in rows for line in texts(row)]
    assert "Groups: added Admins" in lines
    assert "Is superuser: no → yes" in lines
    assert AuditEntry.objects.filter(kind=Kind.USER_CHANGED).count() == before
    assert not any("pbkdf2" in line or "password" in line.lower() for line in lines)


def test_a_roles_permissions_changed_are_recorded(make_user):
    support = Group.objects.get(name=SUPPORT)

    support.permissions.add(Permission.objects.get(codename="delete_site"))

    row = latest(kind=Kind.ROLE_CHANGED)
    assert row.object_repr == SUPPORT
    assert any(line.startswith("Permissions: added") for line in texts(row))


def test_a_failed_login_keeps_a_users_name_but_not_anything_else_typed(client, make_user):
    user = make_user(SUPPORT)
    client.post(reverse("admin:login"), {"username": user.username, "password": "nope-1234"})
    known = latest(kind=Kind.LOGIN_FAILED)
    # A password typed into the username box by mistake.
    client.post(reverse("admin:login"), {"username": "Hunter2-password!", "password": "x"})
    unknown = latest(kind=Kind.LOGIN_FAILED)

    assert repr(user.username) in known.summary
    assert "Hunter2" not in unknown.summary and "17 characters" in unknown.summary


def test_a_sign_in_with_a_recovery_code_is_recorded_with_how_many_are_left(make_user):
    from accounts.services import recovery_codes_replace, second_factor_verify

    user = make_user(STAFF)
    code, *_ = recovery_codes_replace(user=user)

    second_factor_verify(user=user, code=code)

    row = latest(kind=Kind.RECOVERY_CODE_USED)
    assert row.actor_username == user.username
    assert row.summary == f"{user.username} signed in with a recovery code; 9 left"
    assert code not in row.summary
