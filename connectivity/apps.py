from __future__ import annotations

from django.apps import AppConfig


class ConnectivityConfig(AppConfig):
    name = "connectivity"
    verbose_name = "Connectivity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from connectivity import mfa, security, site

        security.connect_signals()
        mfa.connect_signals()
        site.connect_signals()
