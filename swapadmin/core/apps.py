from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "swapadmin.core"
    label = "core"
    verbose_name = "swapadmin"

    def ready(self) -> None:
        # The worker's Celery signal receivers, connected once the models can be imported
        # (the worker module reads them at its top) and before a worker builds its consumers:
        # Celery's Django fixup sets Django up first. In a web process they never fire.
        from . import worker

        worker.connect()
