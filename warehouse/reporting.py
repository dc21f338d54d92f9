"""Keep secrets out of error pages and error reports."""

import re

from django.views.debug import SafeExceptionReporterFilter


class SecretHidingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Cleanse every POST field and local variable whose name looks secret.

    Django cleanses settings by name but shows POST data and a frame's local
    variables unless each view is decorated; here the same name rule covers all.
    """

    hidden_settings = re.compile(
        r"API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|PRIVATE|PEM", flags=re.I
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
        return [
            (name, self.cleansed_substitute if self.hidden_settings.search(name) else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
