import pytest
from cryptography.fernet import Fernet
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from sites.models import Site
from tests.conftest import CONSUMER_KEY, CONSUMER_SECRET

CHANGELIST = reverse("admin:sites_site_changelist")
ADD = reverse("admin:sites_site_add")
NEW_SECRET = "NEWSECRET0123456789ABCDEFGHIJK"


def change_url(site):
    return reverse("admin:sites_site_change", args=[site.pk])


def post_data(site, **overrides):
    data = {
        "name": site.name,
        "code": site.code,
        "connection_type": site.connection_type,
        "api_key": site.api_key,
        "payroll_enabled": "on",
    }
    data.update(overrides)
    return data


# The permission matrix of docs/security.md, one cell per parameter.
@pytest.mark.parametrize(
    ("role", "status"),
    [("superuser", 200), ("admins", 200), ("staff", 200), ("support", 200), ("nobody", 403)],
)
def test_who_may_see_the_site_list(client_for, site, role, status):
    assert client_for(role).get(CHANGELIST).status_code == status


@pytest.mark.parametrize(
    ("role", "status"),
    [("superuser", 200), ("admins", 200), ("staff", 200), ("support", 200), ("nobody", 403)],
)
def test_who_may_open_a_site(client_for, site, role, status):
    assert client_for(role).get(change_url(site)).status_code == status


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("superuser", True),
        ("admins", True),
        ("staff", False),
        ("support", False),
        ("nobody", False),
    ],
)
def test_who_may_add_a_site(client_for, db, role, allowed):
    response = client_for(role).post(
        ADD, {"name": "New", "code": "new", "connection_type": "private_app", "api_key": ""}
    )
    assert Site.objects.filter(code="new").exists() is allowed
    assert response.status_code == (302 if allowed else 403)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("superuser", True),
        ("admins", True),
        ("staff", False),
        ("support", False),
        ("nobody", False),
    ],
)
def test_who_may_delete_a_site(client_for, site, role, allowed):
    url = reverse("admin:sites_site_delete", args=[site.pk])
    client_for(role).post(url, {"post": "yes", "confirm_code": site.code})
    assert Site.objects.filter(pk=site.pk).exists() is not allowed


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("superuser", True), ("admins", True), ("staff", True), ("support", False), ("nobody", False)],
)
def test_who_may_edit_the_xero_details(client_for, site, role, allowed):
    client_for(role).post(change_url(site), post_data(site, new_api_secret=NEW_SECRET))
    site.refresh_from_db()
    assert (site.api_secret == NEW_SECRET) is allowed


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("superuser", True), ("admins", True), ("staff", False)],
)
def test_only_admins_may_rename_a_site(client_for, site, role, allowed):
    client_for(role).post(change_url(site), post_data(site, name="Renamed"))
    site.refresh_from_db()
    assert (site.name == "Renamed") is allowed


@pytest.mark.parametrize(
    ("role", "sees_mask"),
    [("superuser", True), ("admins", True), ("staff", True), ("support", False)],
)
def test_who_sees_the_masked_secret(client_for, site, role, sees_mask):
    html = client_for(role).get(change_url(site)).content.decode()
    assert ("LL.....QO" in html) is sees_mask
    assert CONSUMER_SECRET not in html


def test_support_sees_the_locked_interconnect_id_and_the_key_read_only(client_for, site):
    html = client_for("support").get(change_url(site)).content.decode()
    assert "IMAGATEC" in html
    assert CONSUMER_KEY in html
    assert 'name="api_key"' not in html


def test_change_page_shows_locked_interconnect_id_and_no_secret_input_value(client_for, site):
    html = client_for("staff").get(change_url(site)).content.decode()
    assert "IMAGATEC" in html
    assert "Set by Imagatec" in html
    assert 'name="interconnect_id"' not in html
    assert 'name="new_api_secret"' in html
    assert CONSUMER_SECRET not in html


def test_blank_secret_on_save_keeps_the_stored_one(client_for, site):
    response = client_for("staff").post(change_url(site), post_data(site, new_api_secret=""))
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.api_secret == CONSUMER_SECRET


def test_clear_box_on_save_removes_the_secret(client_for, site):
    client_for("staff").post(change_url(site), post_data(site, clear_api_secret="on"))
    site.refresh_from_db()
    assert site.api_secret == ""


def test_failed_save_shows_the_error_and_keeps_the_previous_values(client_for, site):
    response = client_for("staff").post(
        change_url(site), post_data(site, api_key="bad key é", new_api_secret=NEW_SECRET)
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "may contain only the letters" in html
    assert NEW_SECRET not in html
    site.refresh_from_db()
    assert site.api_key == CONSUMER_KEY
    assert site.api_secret == CONSUMER_SECRET


def test_duplicate_key_is_a_form_error_not_a_500(client_for, site, make_site):
    other = make_site(api_key="OTHERKEY0123456789ABCDEFGHIJKL")
    response = client_for("staff").post(change_url(other), post_data(other, api_key=CONSUMER_KEY))
    assert response.status_code == 200
    assert "Another Site already uses this API Key" in response.content.decode()


def test_posted_interconnect_id_is_refused_with_a_message(client_for, site):
    response = client_for("admins").post(change_url(site), post_data(site, interconnect_id="X"))
    assert response.status_code == 200
    assert "always IMAGATEC" in response.content.decode()
    site.refresh_from_db()
    assert site.interconnect_id == "IMAGATEC"


def test_admin_history_records_the_change_but_not_the_secret(client_for, site):
    client_for("staff").post(change_url(site), post_data(site, new_api_secret=NEW_SECRET))
    entry = LogEntry.objects.get()
    assert NEW_SECRET not in entry.change_message
    assert NEW_SECRET not in entry.object_repr
    history = client_for("admins").get(reverse("admin:sites_site_history", args=[site.pk]))
    assert NEW_SECRET not in history.content.decode()


def test_wrong_encryption_key_gives_a_clear_503_page_not_a_traceback(client_for, site, settings):
    client = client_for("staff")
    session = client.session
    session.keys()  # read now, under the key the session was written with
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    # Sessions are encrypted too, and one under a lost key just signs out
    # (tests/warehouse/accounts/test_sessions.py): this one is written under the new key.
    session.save()
    response = client.get(change_url(site))
    assert response.status_code == 503
    html = response.content.decode()
    assert "cannot read its stored secrets" in html
    assert "FIELD_ENCRYPTION_KEYS" in html
    assert "Traceback" not in html
