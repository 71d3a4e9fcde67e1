from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "swapadmin.web"
    label = "web"
