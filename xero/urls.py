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
        "sites/<slug:code>/xero/setup/switch-to-web-app/",
        views.switch_to_web_app_view,
        name="switch_to_web_app",
    ),
    path("sites/<slug:code>/xero/connect/", views.connect_view, name="connect"),
    path(
        "sites/<slug:code>/xero/connect/choose/",
        views.connect_choose_view,
        name="connect_choose",
    ),
    path("sites/<slug:code>/xero/disconnect/", views.disconnect_view, name="disconnect"),
    path("xero/callback/", views.callback_view, name="callback"),
    path("xero/health/", views.health_view, name="health"),
]
