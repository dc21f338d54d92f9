"""Every failure a user can meet in the Xero app, each with its code and its message.

``step`` names the step of the Xero setup procedure that fixes it (see ``xero/steps.py``).
"""


class XeroError(Exception):
    code = "xero_error"
    message = "Something went wrong with Xero."
    step = None

    def __init__(self, message: str | None = None, **context):
        self.context = context
        if message is not None:
            self.message = message
        elif context:
            self.message = self.message.format(**context)
        super().__init__(self.message)


class CertificateKeySizeInvalid(XeroError):
    code = "certificate_key_size_invalid"
    message = "The key size must be 2048 or 4096 bits."


class CertificateValidityInvalid(XeroError):
    code = "certificate_validity_invalid"
    message = "The certificate must be valid for 1 to {max_days} days."


class CertificateNotPending(XeroError):
    code = "certificate_not_pending"
    message = "Only a pending certificate can be made active; this one is {state}."
