"""/api/v1/ (the router), /api/schema/ and /api/docs/; ``metrics_urlpatterns`` go at the root."""

from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from swapadmin.accounts.api import TokenViewSet
from swapadmin.health.api import BackendHealthViewSet, HealthEventViewSet

from . import metrics, views


class HealthViewSet(views.ApiDefaults, BackendHealthViewSet):
    pass


class HealthEventsViewSet(views.ApiDefaults, HealthEventViewSet):
    pass


app_name = "api"

router = DefaultRouter()
router.register("hosts", views.HostViewSet, basename="host")
router.register("backends", views.BackendViewSet, basename="backend")
router.register("jobs", views.JobViewSet, basename="job")
router.register("audit", views.AuditEventViewSet, basename="audit")
router.register("plugins", views.PluginViewSet, basename="plugin")
router.register("tokens", TokenViewSet, basename="token")
router.register("health", HealthViewSet, basename="health")
router.register("health-events", HealthEventsViewSet, basename="health-event")

urlpatterns: list[URLPattern | URLResolver] = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]

#: Included at the site root by swapadmin/urls.py: Prometheus scrapes /metrics by convention.
metrics_urlpatterns: list[URLPattern | URLResolver] = [
    path("metrics", metrics.metrics_view, name="metrics"),
]
