"""Two people saving the same Site: the later save from a stale page is refused, saying who
changed what, and keeps what was typed (issue 29). Real sessions, real database."""

import re
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from sites.models import Site

from .test_admin import change_url, post_data

CHANGED_ELSEWHERE = "saved this Site after you opened it"


def shown_version(html: str) -> str:
    match = re.search(r'name="site_version" value="(\d+)"', html)
    assert match, "the page carries the version it shows"
    return match[1]


def test_a_save_from_a_stale_admin_form_is_refused_with_who_and_what(client_for, site):
    ann, bob = client_for("staff"), client_for("staff")
    opened = {person: shown_version(person.get(change_url(site)).text) for person in (ann, bob)}
    ann.post(change_url(site), post_data(site, api_key="ANNSKEY0123456789ABCDEFGHIJKL",
                                          site_version=opened[ann]))  # fmt: skip

    response = bob.post(
        change_url(site),
        post_data(site, payroll_enabled="", new_api_secret="BOBSSECRET0123456789ABCDEFGHIJ",
                  site_version=opened[bob]),
    )  # fmt: skip

    assert response.status_code == 200  # the form again, not a redirect
    page = response.text
    assert CHANGED_ELSEWHERE in page
    assert ann.user.username in page and "ANNSKEY0123456789ABCDEFGHIJKL" in page
    assert "BOBSSECRET0123456789ABCDEFGHIJ" not in page  # a secret is never rendered
    assert 'name="payroll_enabled"' in page and 'name="payroll_enabled" checked' not in page
    site.refresh_from_db()
    assert site.api_key == "ANNSKEY0123456789ABCDEFGHIJKL" and site.payroll_enabled
    # Saving again from the refused page applies Bob's change over Ann's.
    again = bob.post(
        change_url(site), post_data(site, payroll_enabled="", site_version=shown_version(page))
    )
    assert again.status_code == 302
    site.refresh_from_db()
    assert not site.payroll_enabled and site.api_key == "ANNSKEY0123456789ABCDEFGHIJKL"


def test_a_save_from_a_stale_setup_page_is_refused_with_who_and_what(client_for, site):
    setup = reverse("xero:setup", args=[site.code])
    ann, bob = client_for("staff"), client_for("staff")
    opened = {person: shown_version(person.get(setup).text) for person in (ann, bob)}
    ann.post(setup, {"api_key": "ANNSKEY0123456789ABCDEFGHIJKL", "payroll_enabled": "on",
                     "site_version": opened[ann]})  # fmt: skip

    response = bob.post(
        setup, {"api_key": "BOBSKEY0123456789ABCDEFGHIJKL", "site_version": opened[bob]}
    )

    page = response.text
    assert CHANGED_ELSEWHERE in page and ann.user.username in page
    assert 'value="BOBSKEY0123456789ABCDEFGHIJKL"' in page  # what Bob typed, kept
    site.refresh_from_db()
    assert site.api_key == "ANNSKEY0123456789ABCDEFGHIJKL"


@pytest.mark.django_db(transaction=True)
def test_of_two_saves_at_once_from_the_same_version_exactly_one_wins(make_user, log_in, site):
    people = [log_in(Client(), make_user("Staff")) for _ in range(2)]
    version = shown_version(people[0].get(change_url(site)).text)
    keys = ["ANNSKEY0123456789ABCDEFGHIJKL", "BOBSKEY0123456789ABCDEFGHIJKL"]
    statuses: list[int] = []
    start = threading.Barrier(2)

    def save(person, key):
        try:
            start.wait()
            response = person.post(
                change_url(site), post_data(site, api_key=key, site_version=version)
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=pair) for pair in zip(people, keys, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 302]  # one saved, one told
    site = Site.objects.get(pk=site.pk)
    assert site.api_key in keys and site.version == int(version) + 1
