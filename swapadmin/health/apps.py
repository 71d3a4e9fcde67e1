from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "swapadmin.health"
    label = "health"
