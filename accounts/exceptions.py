"""One class per failure a person can meet while signing in."""

import math

from warehouse.ages import duration


class SecondFactorError(Exception):
    code = "second_factor_error"
    message = "The second factor could not be checked."

    def __init__(self, message: str | None = None):
        if message:
            self.message = message
        super().__init__(self.message)


class SecondFactorCodeInvalid(SecondFactorError):
    code = "second_factor_code_invalid"
    message = (
        "That code is not right. Type the six digits your authenticator app shows now, "
        "or one of your unused recovery codes."
    )


class SecondFactorFirstCodeInvalid(SecondFactorCodeInvalid):
    # While enrolling there are no recovery codes yet: they come with the confirmation.
    code = "second_factor_first_code_invalid"
    message = (
        "That code is not right. Type the six digits your authenticator app shows now for "
        "this account (a new code appears every 30 seconds)."
    )


class SecondFactorAlreadyEnrolled(SecondFactorError):
    code = "second_factor_already_enrolled"
    message = (
        "You have an authenticator already. To set up a new one, ask a superuser to reset "
        "your second factor."
    )


class SecondFactorThrottled(SecondFactorError):
    code = "second_factor_throttled"
    message = (
        "Too many wrong codes in a row: no code is taken for {wait}. Wait, then type the six "
        "digits your authenticator app shows at that moment."
    )

    def __init__(self, *, seconds: float):
        super().__init__(self.message.format(wait=duration(max(1, math.ceil(seconds)))))


class PasskeyNotFound(SecondFactorError):
    code = "passkey_not_found"
    message = "That passkey is not one of yours (or it was removed already): see the list below."
