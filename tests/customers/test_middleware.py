"""The customer fence's own answers (404s, redirects) are answers like any other."""

import pytest


@pytest.mark.parametrize(
    "path",
    [
        # The customer fence: a 404 for a page not theirs, redirects for the Staff homes.
        "/admin/auth/user/",
        "/admin/",
        "/admin/sites/site/",
        "/no-such-page/",
        "/healthz",
        "/static/warehouse/favicon.svg",
    ],
)
def test_every_answer_to_a_customer_forbids_framing(customer_for, site, path):
    response = customer_for(site).get(path)
    assert response.status_code in (200, 302, 404)
    assert response["X-Frame-Options"] == "DENY"
