from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from accounts.views import admin_login

from .health import health
from .overview import overview
from .views import dashboard

api = [
    path("health/", health, name="health"),
    path("overview/", overview, name="overview"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("", include("accounts.urls")),
    path("", include("jobs.urls")),
    path("", include("datasets.urls")),
    path("", include("training.urls")),
    path("", include("federation.urls")),
    path("", include("inference.urls")),
]

handler400 = "privface_site.views.bad_request"
handler403 = "privface_site.views.permission_denied"
handler404 = "privface_site.views.page_not_found"
handler500 = "privface_site.views.server_error"

urlpatterns = [
    path("admin/login/", admin_login, name="admin-login-throttled"),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    # Everything else is a dashboard route handled by the front end's router.
    re_path(r"^(?!api/|ws/|static/|admin/).*$", dashboard, name="dashboard"),
]
