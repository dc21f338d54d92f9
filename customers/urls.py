from django.contrib import admin
from django.urls import path

from . import views

app_name = "customers"

# The invitation link is opened before any account exists: it is the one page outside the
# admin's gate. The others pass the gate (active, staff status, second factor) first.
gate = admin.site.admin_view

urlpatterns = [
    path("invitations/<str:token>/", views.accept_view, name="accept"),
    path("my-sites/", gate(views.home_view), name="home"),
    path("sites/<slug:code>/invitations/", gate(views.invite_view), name="invite"),
    path(
        "sites/<slug:code>/invitations/<int:pk>/revoke/",
        gate(views.revoke_view),
        name="revoke",
    ),
    path(
        "sites/<slug:code>/customers/<int:pk>/remove/",
        gate(views.remove_view),
        name="remove",
    ),
]
