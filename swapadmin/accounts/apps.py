from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "swapadmin.accounts"
    label = "accounts"

    def ready(self) -> None:
        # Registers the OpenAPI description of our token authentication.
        from . import schema  # noqa: F401
