from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from swapadmin.api.urls import metrics_urlpatterns


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness probe: the one URL besides the login page that needs no login."""
    return HttpResponse("ok\n", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("swapadmin.api.urls")),
    path("", include(metrics_urlpatterns)),
    path("health/", include("swapadmin.health.urls")),
    path("tokens/", include("swapadmin.accounts.urls")),
    path("", include("swapadmin.web.urls")),
]
