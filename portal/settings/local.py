"""The embedded default: `make run` on a laptop, SQLite, embedded broker, bundled simulator."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, env

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

# A development-only Fernet key for integration credentials, generated into .run/ like the
# secret key (production has no default: it refuses to start without FIELD_ENCRYPTION_KEYS).
if not env.list("FIELD_ENCRYPTION_KEYS", default=[]):
    from cryptography.fernet import Fernet

    _field_key_file = BASE_DIR / ".run" / "field-encryption-key"
    _field_key_file.parent.mkdir(exist_ok=True)
    if not _field_key_file.exists():
        _field_key_file.write_text(Fernet.generate_key().decode())
    FIELD_ENCRYPTION_KEYS = [_field_key_file.read_text().strip()]

# `make run` serves with Django's threaded runserver: a thread per request, each with its own
# connection. Kept open (CONN_MAX_AGE > 0) they outlive their threads and exhaust PostgreSQL's
# max_connections under a few concurrent callers, so the embedded default closes each one at
# the end of its request unless DATABASE_CONN_MAX_AGE says otherwise.
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES = {**DATABASES, "default": {
        **DATABASES["default"], "CONN_MAX_AGE": env.int("DATABASE_CONN_MAX_AGE", default=0)}}

# The demo may send webhooks to a receiver on this machine.
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=True)
