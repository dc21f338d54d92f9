"""A user put into a role's group can sign in; one who can't is told why (issue 22, item 6)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from sites.roles import ADMINS, CUSTOMERS, STAFF, SUPPORT
from tests.conftest import restore_roles

PASSWORD = "pw-for-tests-1"


@pytest.fixture
def plain_user(db):
    restore_roles()
    return get_user_model().objects.create_user("newcomer", password=PASSWORD)


@pytest.mark.parametrize("group", [STAFF, ADMINS, SUPPORT, CUSTOMERS])
def test_joining_a_role_gives_staff_status_from_either_side(plain_user, group):
    plain_user.groups.add(Group.objects.get(name=group))
    plain_user.refresh_from_db()
    assert plain_user.is_staff
    other = get_user_model().objects.create_user("other", password=PASSWORD)
    Group.objects.get(name=group).user_set.add(other)
    other.refresh_from_db()
    assert other.is_staff


def test_another_group_gives_nothing(plain_user):
    plain_user.groups.add(Group.objects.create(name="Newsletter"))
    plain_user.refresh_from_db()
    assert not plain_user.is_staff


def test_ticking_a_role_on_the_user_page_gives_staff_status(client_for, plain_user):
    admin = client_for("superuser")
    url = reverse("admin:auth_user_change", args=[plain_user.pk])
    form = {
        "username": plain_user.username,
        "groups": [Group.objects.get(name=SUPPORT).pk],
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = admin.post(url, form)
    assert response.status_code == 302, response.content
    plain_user.refresh_from_db()
    assert plain_user.is_staff


def test_the_user_page_says_what_a_role_member_without_staff_status_lacks(client_for, plain_user):
    plain_user.groups.add(Group.objects.get(name=SUPPORT))
    get_user_model().objects.filter(pk=plain_user.pk).update(is_staff=False)
    page = client_for("superuser").get(reverse("admin:auth_user_change", args=[plain_user.pk]))
    assert "is in Support but lacks Staff status" in page.text


def test_a_right_password_without_staff_status_is_not_called_wrong(client, plain_user):
    plain_user.groups.add(Group.objects.get(name=SUPPORT))
    get_user_model().objects.filter(pk=plain_user.pk).update(is_staff=False)
    response = client.post(reverse("admin:login"), {"username": "newcomer", "password": PASSWORD})
    assert response.status_code == 200
    assert "Your password is right" in response.text
    assert "lacks Staff status (it is in Support, which needs it)" in response.text
    assert "correct username and password" not in response.text


def test_a_wrong_password_says_so_without_a_staff_account(client, plain_user):
    response = client.post(reverse("admin:login"), {"username": "newcomer", "password": "no"})
    assert "do not match an account" in response.text
    assert "staff account" not in response.text
