"""Keep secrets out of error pages and error reports."""

import re

from django.views.debug import SafeExceptionReporterFilter


class SecretHidingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Cleanse every POST field and local variable whose name looks secret, and every value
    of a local dict whose key does.

    Django cleanses settings by name but shows POST data and a frame's local
    variables unless each view is decorated; here the same name rule covers all.
    """

    # CODE: second-factor and recovery codes, OAuth authorization codes (a Site's code is
    # hidden too, a small price); VERIFIER: PKCE; GRANT: a token request's body.
    hidden_settings = re.compile(
        r"API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|PRIVATE|PEM|CODE|VERIFIER|GRANT",
        flags=re.I,
    )

    def get_post_parameters(self, request):
        if request is None:
            return {}
        cleansed = request.POST.copy()
        for name in cleansed:
            if self.hidden_settings.search(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        # By name, and inside a dict by key (a token answer, a session's pending connection).
        return [
            (name, self.cleanse_setting(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
