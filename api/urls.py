from django.urls import path, re_path

from .api import api, not_found

urlpatterns = [
    # Before the API's own root, which would answer Django's HTML 404.
    path("api/v1/", not_found),
    path("api/v1/", api.urls),
    # Any other address under /api/ answers JSON too, never the HTML 404 page.
    re_path(r"^api/(?P<rest>.*)$", not_found),
]
