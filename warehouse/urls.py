from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

# The admin site's titles are set on its class: accounts/adminsite.py.

# A database that cannot be reached answers 503 with Retry-After, not 500 (warehouse/errors.py).
handler500 = "warehouse.errors.server_error"


class FaviconRedirectView(RedirectView):
    """The icon's address, looked up at request time: in production it is a hashed name
    from collectstatic's manifest, which `check` and `migrate` must not need."""

    permanent = True

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        return static("warehouse/favicon.svg")


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # Browsers ask for /favicon.ico on pages that name no icon (downloads, plain answers).
    path("favicon.ico", FaviconRedirectView.as_view()),
    path("admin/", admin.site.urls),
    path("", include("xero.urls")),
    path("", include("sites.urls")),
    path("", include("customers.urls")),
    # The Interconnect API (docs/api.md): machine credentials only, never a session.
    path("", include("api.urls")),
]
