"""Print the current authenticator code for a TOTP secret: the demo's stand-in for a phone app."""

from __future__ import annotations

import time
from typing import Any

from allauth.mfa import app_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Print the current 6-digit code for an authenticator (TOTP) secret."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("secret", help="The secret shown under the QR code when enrolling.")

    def handle(self, *args: Any, **options: Any) -> None:
        secret = "".join(str(options["secret"]).split()).upper()
        try:
            counter = int(time.time()) // app_settings.TOTP_PERIOD
            code = format_hotp_value(hotp_value(secret, counter))
        except (ValueError, TypeError) as exc:
            raise CommandError("The secret must be the base32 text shown under the QR code "
                               f"(letters A-Z and digits 2-7): {exc}") from exc
        self.stdout.write(code)
