from __future__ import annotations

from django.apps import AppConfig


class ConnectivityConfig(AppConfig):
    name = "connectivity"
    verbose_name = "Connectivity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from connectivity import kinds, mfa, security, site

        assert kinds.all_keys()  # every kind registered before the first request is read

        security.connect_signals()
        mfa.connect_signals()
        site.connect_signals()
