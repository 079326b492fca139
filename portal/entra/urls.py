from __future__ import annotations

from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from portal.entra.provider import EntraProvider

urlpatterns = default_urlpatterns(EntraProvider)
