"""One class per failure a person meets with invitations: a code, a message, what to do."""


class InvitationError(Exception):
    code = "invitation_error"
    message = "This invitation cannot be used."
    fix = "Ask the person who invited you for a new invitation."
    # The HTTP status of the page that says so.
    status = 400

    def __init__(self, message: str | None = None):
        if message:
            self.message = message
        super().__init__(self.message)


class InvitationUnknown(InvitationError):
    code = "invitation_unknown"
    message = "This invitation link is not valid. Check you copied the whole link from the email."
    fix = "Ask the Warehouse team (whoever invited you) to send a new invitation."
    status = 404


class InvitationUsed(InvitationError):
    code = "invitation_used"
    message = "This invitation link has already been used: each link works once."
    fix = "If that was you, sign in with the password you chose. If not, tell {inviter} now."
    status = 410


class InvitationExpired(InvitationError):
    code = "invitation_expired"
    message = "This invitation link has expired."
    fix = "Ask {inviter} for a new invitation."
    status = 410


class InvitationRevoked(InvitationError):
    code = "invitation_revoked"
    message = "This invitation was withdrawn."
    fix = "Ask {inviter} whether you should have a new one."
    status = 410


class InvitationLimitReached(InvitationError):
    code = "invitation_limit_reached"
    message = "You sent {limit} invitations in the last hour, the most allowed."
    fix = "Wait an hour, or ask an Admin to raise INVITATIONS_PER_HOUR."
    status = 429

    def __init__(self, limit: int):
        super().__init__(self.message.format(limit=limit) + " " + self.fix)


class InvitationForStaffAccount(InvitationError):
    code = "invitation_for_staff_account"
    message = (
        "This email address belongs to a Warehouse staff account; customers must have accounts "
        "of their own. Invite another address."
    )
