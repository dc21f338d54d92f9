"""Walk the "Connect to Xero" flow with the Django test client and the fake Xero's consent
page, as a browser would (the browser test clicks the same pages)."""

import datetime
import re
from urllib.parse import urlsplit

import requests
from django.utils import timezone

from xero.models import TokenSet


def start(client, site):
    """POST Connect to Xero; return the consent page the browser lands on."""
    response = client.post(f"/sites/{site.code}/xero/connect/")
    assert response.status_code == 302, response.content
    return requests.get(response["Location"], allow_redirects=False, timeout=5)


def answer(fake, page, *organisations, decision="allow") -> str:
    """Answer the consent page; return the callback path Xero sends the browser to."""
    request_id = re.search(r'name="request" value="([^"]+)"', page.text).group(1)
    form = [("request", request_id), ("decision", decision)]
    form += [("tenant", organisation.tenant_id) for organisation in organisations]
    response = requests.post(fake.authorize_url, data=form, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    return f"{location.path}?{location.query}"


def connect(client, fake, site, *organisations):
    """The whole walk up to the callback's answer (a redirect to the setup page, the
    choose page, or a problem page)."""
    callback = answer(fake, start(client, site), *(organisations or (fake.acme,)))
    return client.get(callback)


def expire(fake):
    """Every access token is expired, at the fake Xero and in the Warehouse's records."""
    fake.expire_tokens()
    TokenSet.objects.update(access_token_expires_at=timezone.now() - datetime.timedelta(minutes=1))
