# The fake Xero and its Sites, as the Xero tests have them.
from tests.xero.conftest import fake_xero, fake_xero_settings, private_site  # noqa: F401
