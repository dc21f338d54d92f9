from django.contrib import admin
from django.urls import path

from . import views

app_name = "xero"

# Every page here passes the admin's gate first (active, staff, second factor), then the
# view's own role check.
gate = admin.site.admin_view

urlpatterns = [
    path("sites/<slug:code>/xero/setup/", gate(views.setup_view), name="setup"),
    path(
        "sites/<slug:code>/xero/setup/switch-to-custom-connection/",
        gate(views.switch_to_custom_connection_view),
        name="switch_to_custom_connection",
    ),
    path(
        "sites/<slug:code>/xero/certificates/issue/",
        gate(views.certificate_issue_view),
        name="certificate_issue",
    ),
    path(
        "sites/<slug:code>/xero/certificates/<int:pk>/activate/",
        gate(views.certificate_activate_view),
        name="certificate_activate",
    ),
    path(
        "sites/<slug:code>/xero/certificates/<int:pk>/reactivate/",
        gate(views.certificate_reactivate_view),
        name="certificate_reactivate",
    ),
    path(
        "sites/<slug:code>/xero/certificates/<int:pk>/publickey.cer",
        gate(views.certificate_download_view),
        name="certificate_download",
    ),
    path(
        "sites/<slug:code>/xero/connection-test/",
        gate(views.connection_test_view),
        name="connection_test",
    ),
    path(
        "sites/<slug:code>/xero/connection-tests/",
        gate(views.connection_tests_view),
        name="connection_tests",
    ),
    path(
        "sites/<slug:code>/xero/setup/switch-to-private-app/",
        gate(views.switch_to_private_app_view),
        name="switch_to_private_app",
    ),
    path(
        "sites/<slug:code>/xero/setup/switch-to-web-app/",
        gate(views.switch_to_web_app_view),
        name="switch_to_web_app",
    ),
    path("sites/<slug:code>/xero/connect/", gate(views.connect_view), name="connect"),
    path(
        "sites/<slug:code>/xero/connect/choose/",
        gate(views.connect_choose_view),
        name="connect_choose",
    ),
    path("sites/<slug:code>/xero/disconnect/", gate(views.disconnect_view), name="disconnect"),
    path("sites/<slug:code>/xero/pause/", gate(views.pause_view), name="pause"),
    path("sites/<slug:code>/xero/resume/", gate(views.resume_view), name="resume"),
    path("xero/callback/", gate(views.callback_view), name="callback"),
    path(
        "xero/organisations/<int:pk>/disconnect/",
        gate(views.unbound_disconnect_view),
        name="unbound_disconnect",
    ),
    path("xero/health/", gate(views.health_view), name="health"),
    path("account/alerts/", gate(views.alert_preferences_view), name="alert_preferences"),
    path("xero/health.csv", gate(views.health_csv_view), name="health_csv"),
    path("xero/health/status.json", gate(views.health_status_view), name="health_status"),
]
