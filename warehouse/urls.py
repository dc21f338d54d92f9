from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

# The admin site's titles are set on its class: accounts/adminsite.py.

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # Browsers ask for /favicon.ico on pages that name no icon (downloads, plain answers).
    path("favicon.ico", RedirectView.as_view(url=static("warehouse/favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("", include("xero.urls")),
    path("", include("sites.urls")),
    path("", include("customers.urls")),
    # The Interconnect API (docs/api.md): machine credentials only, never a session.
    path("", include("api.urls")),
]
