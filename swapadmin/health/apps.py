from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "swapadmin.health"
    label = "health"

    def ready(self) -> None:
        # The worker runs a ``check`` job with the health app's handler: core names no
        # health module (the action table's ``handled_by`` says whose it is).
        from swapadmin.core import handlers

        from . import checks

        handlers.register("check", checks.check)
