"""Settings of the test suite (pytest's ``--ds``): ``warehouse/settings.py`` read from the
fixed ``tests.environment.TEST_ENVIRONMENT`` instead of the process environment and `.env`."""

import os
import sys

import environ
from django.core.exceptions import ImproperlyConfigured

from tests.environment import settings_environment

if "warehouse.settings" in sys.modules:
    # Already read from the real environment: importing it again would not reread it.
    raise ImproperlyConfigured("warehouse.settings was imported before tests.settings.")

environ.Env.ENVIRON = settings_environment()
try:
    from warehouse.settings import *  # noqa: F403
finally:
    # Only the import above reads variables; nothing after it may see the fixed ones.
    environ.Env.ENVIRON = os.environ
