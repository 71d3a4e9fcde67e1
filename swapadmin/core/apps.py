from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "swapadmin.core"
    label = "core"
    verbose_name = "swapadmin"
