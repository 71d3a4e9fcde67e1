from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "swapadmin.api"
    label = "api"
