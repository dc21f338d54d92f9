"""One class per failure a person can meet while signing in."""


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


class SecondFactorAlreadyEnrolled(SecondFactorError):
    code = "second_factor_already_enrolled"
    message = (
        "You have an authenticator already. To set up a new one, ask a superuser to reset "
        "your second factor."
    )
