"""The embedded default: `make run` on a laptop, SQLite, embedded broker, bundled simulator."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# A development-only key, generated once and kept in .run/ so sessions survive restarts.
_key_file = BASE_DIR / ".run" / "secret-key"
if not env.str("DJANGO_SECRET_KEY", default=""):
    import secrets

    _key_file.parent.mkdir(exist_ok=True)
    if not _key_file.exists():
        _key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = _key_file.read_text().strip()
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")

# Demo users are created verified by seed_demo; new sign-ups verify by the console email.
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")

# The demo may send webhooks to a receiver on this machine.
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=True)
