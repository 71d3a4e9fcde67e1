"""The health viewsets mounted as the API engineer is asked to mount them, for API tests."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from swapadmin.health.api import BackendHealthViewSet, HealthEventViewSet

router = DefaultRouter()
router.register("health", BackendHealthViewSet, basename="health")
router.register("health-events", HealthEventViewSet, basename="health-event")

urlpatterns = [path("api/v1/", include(router.urls))]
