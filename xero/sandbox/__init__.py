"""A fake Xero server (OAuth 1.0a private apps and OAuth 2.0 custom connections) for tests
and for local development through ``manage.py xero_sandbox``."""

from .bodies import Organisation
from .server import DEFAULT_SCOPES, FAILURE_KINDS, Call, FakeXero

__all__ = ["DEFAULT_SCOPES", "FAILURE_KINDS", "Call", "FakeXero", "Organisation"]
