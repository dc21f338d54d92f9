import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from warehouse.commands import PlainErrorsCommand


class Command(PlainErrorsCommand):
    help = (
        "Create a first superuser with a one-time password, unless a superuser exists. "
        "The name comes from --username, else from INITIAL_SUPERUSER_USERNAME."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--username", help="the superuser's name (default: INITIAL_SUPERUSER_USERNAME)"
        )

    def handle(self, *args, username=None, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("A superuser exists already; nothing to do.")
            return
        username = (username or settings.INITIAL_SUPERUSER_USERNAME).strip()
        if not username:
            raise CommandError(
                "No name for the first superuser: pass --username NAME, or set "
                "INITIAL_SUPERUSER_USERNAME in the environment (or .env)."
            )
        try:
            User.username_validator(username)
            User._meta.get_field("username").run_validators(username)
        except ValidationError as error:
            raise CommandError(
                f"{username!r} cannot be a user name: {' '.join(error.messages)}"
            ) from None
        if User.objects.filter(username=username).exists():
            raise CommandError(
                f"A user named {username!r} exists but is not a superuser; choose another name "
                "with --username."
            )
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created superuser '{username}' with the one-time password: {password}\n"
                "It is shown only this once. Log in, set up your second factor (an "
                "authenticator app: the page walks you through it), then change the password "
                "(top right, 'Change password')."
            )
        )
