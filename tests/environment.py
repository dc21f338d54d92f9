"""The environment the test suite runs on: fixed values, whatever `.env` or the shell holds.

``tests/settings.py`` has ``warehouse/settings.py`` read ``TEST_ENVIRONMENT`` instead of the
process environment and the ``.env`` file, so every setting, and every setting derived from
another (ALLOWED_HOSTS from DEBUG, the task apps from TASKS_BACKEND), is the same on every
machine. A variable not listed here takes the default written in ``warehouse/settings.py``.

The suite has two inputs, read from the shell only (never from `.env`): ``DATABASE_URL``
picks the database (SQLite when unset) and ``CHROMIUM_PATH`` the browser
(``tests/browser/conftest.py``).
"""

import os

# A new setting needs an entry here only when the tests must run it at another value than
# its default in warehouse/settings.py; one test changes it with the `settings` fixture.
TEST_ENVIRONMENT = {
    # warehouse/settings.py reads no .env file: only these values.
    "READ_DOT_ENV_FILE": "False",
    "SECRET_KEY": "tests-only-secret-key-never-used-anywhere-else-0123456789",
    # Like the .env that `make run` writes; pytest-django still runs each test with DEBUG off.
    "DEBUG": "True",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    # Each test gets a fresh key of its own as well (tests/conftest.py).
    "FIELD_ENCRYPTION_KEYS": "Fpm4n4xB2gE9Q3Vq0r1l6kqvJ3m2Wc7s8Yy5T0uHq1I=",
    # Access (issue 10): every test user passes the second factor through the fixtures
    # (tests/second_factor.py); a test turns it off with the `settings` fixture.
    "REQUIRE_TWO_FACTOR": "True",
    "OTP_TOTP_ISSUER": "Warehouse",
    # No default name: tests pass --username or set the setting themselves.
    "INITIAL_SUPERUSER_USERNAME": "",
}


def settings_environment() -> dict[str, str]:
    """``TEST_ENVIRONMENT`` plus the shell's ``DATABASE_URL`` when it is set."""
    environment = dict(TEST_ENVIRONMENT)
    if os.environ.get("DATABASE_URL"):
        environment["DATABASE_URL"] = os.environ["DATABASE_URL"]
    return environment


def manage_environment(**variables: str) -> dict[str, str]:
    """The whole environment of a ``manage.py`` subprocess: ``variables``, no `.env`, and
    only the PATH of the shell (so that ``openssl`` and the like are found)."""
    return {"PATH": os.environ.get("PATH", os.defpath), "READ_DOT_ENV_FILE": "False", **variables}
