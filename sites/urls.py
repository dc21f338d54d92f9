from django.contrib import admin
from django.urls import path

from . import views

app_name = "sites"

urlpatterns = [
    # Through the admin's gate like every page of the Warehouse (login, staff, and what
    # the admin site adds to it).
    path("audit/", admin.site.admin_view(views.audit_log_view), name="audit_log"),
]
