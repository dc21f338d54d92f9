import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """These tests make hundreds of users: a cheap hasher keeps them quick (what is tested
    here is the gate and the second factor, not the hash of the password)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
