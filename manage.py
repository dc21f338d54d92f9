#!/usr/bin/env python
"""Django's command-line utility for the Warehouse."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warehouse.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018  (reads the settings, so a bad one is said plainly)
    except ImproperlyConfigured as error:
        sys.exit(f"Error: {error}")

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
