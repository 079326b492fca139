from __future__ import annotations

from django.apps import AppConfig


class ConnectivityConfig(AppConfig):
    name = "connectivity"
    verbose_name = "Connectivity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from connectivity import kinds, mfa, security, site

        assert kinds.all_keys()  # every kind registered before the first request is read
        _install_webhook_renderers()

        security.connect_signals()
        mfa.connect_signals()
        site.connect_signals()


def _install_webhook_renderers() -> None:
    """Webhook bodies carry the API's representations; the API sits above the lifecycle that
    emits them, so they are handed down here rather than imported from below."""
    from connectivity.api import serializers
    from connectivity.webhooks import events

    events.install_renderers(request=serializers.RequestSerializer,
                             event=serializers.EventSerializer,
                             comment=serializers.CommentSerializer)
