import pytest
from django.contrib.auth import get_user_model

from customers.services import membership_add


def client_user(client):
    """The user a test client is signed in as."""
    return get_user_model().objects.get(pk=client.session["_auth_user_id"])


@pytest.fixture
def customer_for(client_for):
    """``customer_for(*sites)``: a client signed in as a customer of ``sites``."""

    def customer_for(*sites):
        client = client_for("customer")
        for site in sites:
            membership_add(site=site, user=client_user(client))
        return client

    return customer_for
