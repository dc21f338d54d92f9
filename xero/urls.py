from django.urls import path

from . import views

app_name = "xero"

urlpatterns = [
    path("sites/<slug:code>/xero/setup/", views.setup_view, name="setup"),
    path(
        "sites/<slug:code>/xero/setup/switch-to-custom-connection/",
        views.switch_to_custom_connection_view,
        name="switch_to_custom_connection",
    ),
    path(
        "sites/<slug:code>/xero/certificates/issue/",
        views.certificate_issue_view,
        name="certificate_issue",
    ),
    path(
        "sites/<slug:code>/xero/certificates/<int:pk>/activate/",
        views.certificate_activate_view,
        name="certificate_activate",
    ),
    path(
        "sites/<slug:code>/xero/certificates/<int:pk>/publickey.cer",
        views.certificate_download_view,
        name="certificate_download",
    ),
    path(
        "sites/<slug:code>/xero/connection-test/",
        views.connection_test_view,
        name="connection_test",
    ),
    path(
        "sites/<slug:code>/xero/connection-tests/",
        views.connection_tests_view,
        name="connection_tests",
    ),
    path("xero/health/", views.health_view, name="health"),
    path("xero/health.csv", views.health_csv_view, name="health_csv"),
    path("xero/health/status.json", views.health_status_view, name="health_status"),
]
