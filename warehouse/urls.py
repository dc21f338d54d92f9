from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Warehouse"
admin.site.site_title = "Warehouse"
admin.site.index_title = "Xero integrations"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("", include("xero.urls")),
    path("", include("customers.urls")),
]
