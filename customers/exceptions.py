"""One class per failure a person meets with invitations: a code, a message, what to do.

As in ``xero/exceptions.py``, the base makes the exception and a family's base holds what
its failures share, so each class states only its own code, message and fix.
"""


class InvitationError(Exception):
    code = "invitation_error"
    message = "This invitation cannot be used."
    fix = "Ask the person who invited you for a new invitation."
    # The HTTP status of the page that says so.
    status = 400

    def __init__(self, message: str | None = None, **context):
        """``message`` replaces the class's own. Otherwise ``context`` fills the placeholders
        of the message and the fix, which then read as one sentence after the other."""
        if message:
            self.message = message
        elif context:
            self.message = f"{self.message} {self.fix}".format(**context)
        super().__init__(self.message)


class InvitationUnknown(InvitationError):
    code = "invitation_unknown"
    message = "This invitation link is not valid. Check you copied the whole link from the email."
    fix = "Ask the Warehouse team (whoever invited you) to send a new invitation."
    status = 404


class InvitationClosed(InvitationError):
    """A link that worked and works no more: used, withdrawn or expired. Its page answers
    410 Gone, and its fix names the person who sent it (``inviter``)."""

    status = 410


class InvitationUsed(InvitationClosed):
    code = "invitation_used"
    message = "This invitation link has already been used: each link works once."
    fix = "If that was you, sign in with the password you chose. If not, tell {inviter} now."


class InvitationExpired(InvitationClosed):
    code = "invitation_expired"
    message = "This invitation link has expired."
    fix = "Ask {inviter} for a new invitation."


class InvitationRevoked(InvitationClosed):
    code = "invitation_revoked"
    message = "This invitation was withdrawn."
    fix = "Ask {inviter} whether you should have a new one."


class InvitationLimitReached(InvitationError):
    code = "invitation_limit_reached"
    message = "You sent {limit} invitations in the last hour, the most allowed."
    fix = "Wait an hour, or ask an Admin to raise INVITATIONS_PER_HOUR."
    status = 429

    def __init__(self, limit: int):
        super().__init__(limit=limit)


class InvitationForStaffAccount(InvitationError):
    code = "invitation_for_staff_account"
    message = (
        "This email address belongs to a Warehouse staff account; customers must have accounts "
        "of their own. Invite another address."
    )


class InvitationNeedsPassword(InvitationError):
    code = "invitation_needs_password"
    message = (
        "A Warehouse account with this email address exists already: the Site is added to it "
        "only with that account's password."
    )
    fix = "Type the password of that account, or ask whoever invited you."
    status = 403


class InvitationAddressRefused(InvitationError):
    code = "invitation_address_refused"
    message = "A Warehouse account could not be made for {email}."
    fix = "Ask the person who invited you to invite another address of yours."
