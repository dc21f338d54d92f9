"""Sign-in by email address: customers type the address they were invited at, in any case."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from .selectors import users_with_address


class EmailAddressBackend(ModelBackend):
    """Django's ``ModelBackend``, with the sign-in name looked up as an email address too.

    Listed after django-axes' backend (which refuses a locked-out name first) and instead of
    ``ModelBackend``: a name without ``@`` is a login name as before; one with ``@`` is the
    account whose address (or login name) has its normal form. Two accounts sharing an address
    sign in by login name only, so an address never picks one of them by chance.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None or "@" not in str(username):
            return super().authenticate(request, username, password, **kwargs)
        users = users_with_address(str(username))
        if len(users) != 1:
            # Run the hasher once anyway, so the answer's time does not tell who exists.
            get_user_model()().set_password(password)
            return None
        user = users[0]
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
