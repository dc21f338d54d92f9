app_name = "xero"

urlpatterns = []
