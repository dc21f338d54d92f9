"""The project's URLs plus one view that fails, to see the 500 page."""

from django.urls import path

from warehouse.urls import urlpatterns as project_urlpatterns


def broken_view(request):
    secret_variable = "SECRET-IN-A-LOCAL-VARIABLE"  # noqa: F841  (must never be shown)
    raise RuntimeError("boom: something the user must never see")


urlpatterns = [*project_urlpatterns, path("broken/", broken_view)]
