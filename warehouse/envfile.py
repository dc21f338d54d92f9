"""Write a local ``.env`` with fresh keys, once.

Run as ``python -m warehouse.envfile`` by ``make run`` and ``make test``; it needs
only the standard library, so it works before the virtualenv exists.
"""

import base64
import getpass
import os
import re
import secrets
import sys
from pathlib import Path

ENV_PATH = Path(__file__).resolve().parent.parent / ".env"


def render_env_file() -> str:
    """Return the text of a development ``.env`` with freshly generated keys."""
    fernet_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return (
        "# Written by `make run` for local development. Never commit it.\n"
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
        "DEBUG=True\n"
        "ALLOWED_HOSTS=127.0.0.1,localhost\n"
        f"FIELD_ENCRYPTION_KEYS={fernet_key}\n"
        f"INITIAL_SUPERUSER_USERNAME={initial_superuser_username()}\n"
    )


def initial_superuser_username() -> str:
    """Your login name (what Django accepts of it) for the first superuser, not a guessable
    ``admin``."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = ""
    name = re.sub(r"[^\w.@+-]", "", name)[:150]
    return name if name and name != "root" else "warehouse-" + secrets.token_hex(3)


def main(path: Path = ENV_PATH) -> int:
    if path.exists():
        print(f"{path.name} exists; keeping it.")
        return 0
    path.write_text(render_env_file())
    path.chmod(0o600)
    print(f"Wrote {path.name} with a new SECRET_KEY and FIELD_ENCRYPTION_KEYS.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
