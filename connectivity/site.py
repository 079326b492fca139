"""The Site row allauth names in its emails ("[Connectivity Portal] Confirm your email").

django.contrib.sites creates ``example.com`` on the first migrate; every migrate (and every test
database flush) sets it back to PORTAL_SITE_NAME and the host of PORTAL_SITE_URL instead.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models.signals import post_migrate


def site_values() -> dict[str, str]:
    domain = urlsplit(settings.SITE_URL).netloc or "localhost"
    return {"domain": domain[:100], "name": str(settings.PORTAL_SITE_NAME)[:50]}


def sync_site(*, using: str = "default", **_: Any) -> None:
    from django.contrib.sites.models import Site

    Site.objects.using(using).update_or_create(pk=settings.SITE_ID, defaults=site_values())


def connect_signals() -> None:
    from django.apps import apps

    post_migrate.connect(sync_site, sender=apps.get_app_config("connectivity"),
                         dispatch_uid="site.sync_from_settings")
