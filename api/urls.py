from django.urls import path, re_path

from .api import api, not_found

urlpatterns = [
    path("api/v1/", api.urls),
    # Any other address under /api/ answers JSON too, never the HTML 404 page.
    re_path(r"^api/(?P<rest>.*)$", not_found),
]
