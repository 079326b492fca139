"""Settings shared by every environment. Only this package reads the environment."""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from portal.settings import sso

BASE_DIR = Path(__file__).resolve().parent.parent.parent
RUN_DIR = BASE_DIR / ".run"  # runtime files of the embedded default: broker, keys, CA
RUN_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def required(name: str) -> str:
    """A production secret: no default, and a clear error naming the variable."""
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable.")
    return value


DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("PORTAL_SITE_URL", default="http://127.0.0.1:8000")
# The name allauth's emails carry ("[Connectivity Portal] ..."); see connectivity/site.py.
PORTAL_SITE_NAME = env.str("PORTAL_SITE_NAME", default="Connectivity Portal")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",  # allauth.usersessions' session list uses naturaltime
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.microsoft",
    "allauth.socialaccount.providers.google",
    "allauth.mfa",
    "allauth.usersessions",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "connectivity",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "connectivity.mfa.StaffAdminMFAMiddleware",  # staff need MFA in Django admin too
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"
SITE_ID = 1

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# SQLite file by default so a fresh clone runs with nothing installed; Postgres when set.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # Web server, worker and beat share one SQLite file in the embedded default: wait for locks.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # A transaction that reads and then writes (allauth's session tracking does, on every
    # request) must take the write lock up front: upgrading a read lock under concurrent
    # requests fails at once with "database is locked" instead of waiting for the timeout.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "connectivity.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "account_login"

# django-allauth: email is the identity; verification is mandatory.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "5/m/ip,3/5m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
}
# The client address allauth's per-address limits (and the audit log) use: the Nth address from
# the right of X-Forwarded-For when N trusted proxies sit in front; 0 trusts no header.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ACCOUNT_ALLOW_REGISTRATION = env.bool("ACCOUNT_ALLOW_REGISTRATION", default=False)
ACCOUNT_ADAPTER = "portal.auth.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "portal.auth.SocialAccountAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# TOTP secrets and recovery seeds are Fernet-encrypted with FIELD_ENCRYPTION_KEYS.
MFA_ADAPTER = "portal.auth.MFAAdapter"
MFA_TOTP_ISSUER = "Connectivity Portal"
# Staff act only in sessions that passed MFA (connectivity/mfa.py); false for a local demo only.
CONSOLE_REQUIRE_MFA = env.bool("CONSOLE_REQUIRE_MFA", default=True)

# SSO providers are offered only when their credentials are configured (portal/settings/sso.py);
# with the bundled simulator, "Sign in with Microsoft" goes to the simulator's Entra ID.
SOCIALACCOUNT_PROVIDERS = sso.providers(env, simulator_url=(
    f"https://127.0.0.1:{env.int('AZURE_SIMULATOR_PORT', default=8443)}"
    if env.bool("AZURE_SIMULATOR", default=True) else None))
INSTALLED_APPS = sso.installed_apps(INSTALLED_APPS, SOCIALACCOUNT_PROVIDERS)
SSO_SIMULATOR_CLIENT_ID = sso.SIMULATOR_CLIENT_ID
SSO_SIMULATOR_CLIENT_SECRET = sso.SIMULATOR_CLIENT_SECRET
# Staff sign in with Microsoft from this tenant (default: the platform's); an id token whose
# `amr` says the provider did MFA counts as the portal's MFA only when this is on.
SSO_STAFF_TENANT_ID = env.str("SSO_STAFF_TENANT_ID", default="")
SSO_TRUST_PROVIDER_MFA = env.bool("SSO_TRUST_PROVIDER_MFA", default=False)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Connectivity Portal <noreply@localhost>")
STAFF_ALERT_EMAILS = env.list("STAFF_ALERT_EMAILS", default=[])
# Customer messages go to the staff who worked on the request; else here; else all console staff.
STAFF_COMMENT_EMAILS = env.list("STAFF_COMMENT_EMAILS", default=[])
# connectivity.security: email staff when one account passes a threshold inside the window.
SECURITY_ALERT_WINDOW = env.int("SECURITY_ALERT_WINDOW", default=900)
SECURITY_ALERT_FAILED_SIGNINS = env.int("SECURITY_ALERT_FAILED_SIGNINS", default=10)
SECURITY_ALERT_CROSS_ORG = env.int("SECURITY_ALERT_CROSS_ORG", default=5)

# Celery: the embedded default is kombu's SQLAlchemy transport on a SQLite file, so `make run`
# needs no Redis. REDIS_URL (or CELERY_BROKER_URL) switches to Redis.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL",
    default=REDIS_URL or f"sqla+sqlite:///{RUN_DIR / 'broker.sqlite3'}",
)
CELERY_RESULT_BACKEND = None
# Redis redelivers an unacked message after this; longer than any task's time limit. (Only for
# Redis: kombu's SQLAlchemy transport hands its options to create_engine, which refuses it.)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"visibility_timeout": 600} if CELERY_BROKER_URL.startswith(("redis", "rediss")) else {})
# Workers reconnect by themselves when Redis restarts (portal/broker.py says why).
CELERY_BROKER_TRANSPORT = (
    "portal.broker:Transport" if CELERY_BROKER_URL.startswith(("redis", "rediss")) else None)
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # keep trying while Redis is away
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Workers run a pool of threads: a step spends its time waiting on ARM over the network (about
# 150 ms a call, with the GIL released) and little on the CPU, so one process keeps many calls
# in flight. Each thread holds a database connection: keep processes x threads (plus the web's)
# below PostgreSQL's max_connections. On SQLite (`make run` without DATABASE_URL) writers take
# turns on one file lock, so more than two threads would only queue there.
# `celery worker --pool/--concurrency` still override both.
CELERY_WORKER_POOL = env.str("CELERY_WORKER_POOL", default="threads")
if CELERY_WORKER_POOL not in ("threads", "prefork", "solo"):
    raise ImproperlyConfigured(
        f"CELERY_WORKER_POOL must be threads, prefork or solo, not {CELERY_WORKER_POOL!r}.")
_concurrency = env.str("CELERY_WORKER_CONCURRENCY", default="") or (
    "16" if DATABASES["default"]["ENGINE"].endswith("postgresql") else "2")
if not _concurrency.isdigit() or int(_concurrency) < 1:
    raise ImproperlyConfigured(
        f"CELERY_WORKER_CONCURRENCY must be a whole number of threads (processes for prefork) "
        f"per worker, at least 1, not {_concurrency!r}.")
CELERY_WORKER_CONCURRENCY = int(_concurrency)
# Loaded when a worker starts: the Azure SDK takes about a second of CPU to import, which would
# otherwise delay the first request a worker takes on.
CELERY_IMPORTS = ["connectivity.azure.gateway"]
CELERY_BEAT_SCHEDULE_FILENAME = str(RUN_DIR / "celerybeat-schedule")

CACHES = {
    "default": (
        {"BACKEND": "connectivity.cache.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
}

# How long the API keeps a rendered page (connectivity/api/pagecache.py; 0: not at all). A page is
# replaced as soon as anything it shows changes; this bounds what an unused one holds, and how
# long one stays stale when a process died between a write's commit and its version bump.
API_PAGE_CACHE_SECONDS = env.int("API_PAGE_CACHE_SECONDS", default=60)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's JSON parser with a nesting bound: 100,000 `[` is a 400, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": ["connectivity.api.parsers.JSONParser"],
    # Used by connectivity.api.throttling: one budget per API token, one per user.
    "DEFAULT_THROTTLE_RATES": {
        "api_token": env.str("API_THROTTLE_TOKEN_RATE", default="600/min"),
        "api_user": env.str("API_THROTTLE_USER_RATE", default="1200/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Connectivity Portal API",
    "DESCRIPTION": "Self-service VNet peering, private DNS zones and DNS forwarding.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files (drf-spectacular-sidecar): no CDN, CSP-safe.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two choice sets share the field name "state": name both, so neither gets a hashed name.
    "ENUM_NAME_OVERRIDES": {"StateEnum": "connectivity.models.RequestState",
                            "WebhookDeliveryStateEnum": "connectivity.models.WebhookDelivery.State",
                            "WebhookEventTypeEnum": "connectivity.webhooks.events.EVENT_TYPES"},
}

# Content Security Policy: no inline script or style anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
CONTENT_SECURITY_POLICY = sso.with_form_action(CONTENT_SECURITY_POLICY, SOCIALACCOUNT_PROVIDERS)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 8)
SESSION_SAVE_EVERY_REQUEST = True  # inactivity expiry: the age counts from the last request
# allauth.usersessions lists a user's sessions (/accounts/sessions/) and signs the others out.
USERSESSIONS_TRACK_ACTIVITY = True

# --- Azure ----------------------------------------------------------------------------------
# The embedded default points every client at the bundled ARM simulator (see README).
AZURE_SIMULATOR = env.bool("AZURE_SIMULATOR", default=True)
AZURE_SIMULATOR_PORT = env.int("AZURE_SIMULATOR_PORT", default=8443)
AZURE_PLATFORM_TENANT_ID = env.str(
    "AZURE_PLATFORM_TENANT_ID", default="11111111-1111-4111-8111-111111111111")
AZURE_PLATFORM_SUBSCRIPTION_ID = env.str(
    "AZURE_PLATFORM_SUBSCRIPTION_ID", default="22222222-2222-4222-8222-222222222222")
AZURE_CLIENT_ID = env.str("AZURE_CLIENT_ID", default="33333333-3333-4333-8333-333333333333")
AZURE_CLIENT_SECRET = env.str("AZURE_CLIENT_SECRET", default="simulator-secret")
AZURE_CLIENT_CERTIFICATE_PATH = env.str("AZURE_CLIENT_CERTIFICATE_PATH", default="") or None
AZURE_FEDERATED_TOKEN_FILE = env.str("AZURE_FEDERATED_TOKEN_FILE", default="") or None
_simulator_url = f"https://127.0.0.1:{AZURE_SIMULATOR_PORT}"
AZURE_ARM_ENDPOINT = env.str(
    "AZURE_ARM_ENDPOINT",
    default=_simulator_url if AZURE_SIMULATOR else "https://management.azure.com",
)
AZURE_AUTHORITY_HOST = env.str(
    "AZURE_AUTHORITY_HOST",
    default=_simulator_url if AZURE_SIMULATOR else "https://login.microsoftonline.com",
)
AZURE_CA_BUNDLE = env.str(
    "AZURE_CA_BUNDLE",
    default=str(RUN_DIR / "simulator-ca.pem") if AZURE_SIMULATOR else "",
) or None
AZURE_SDK_RETRY_TOTAL = env.int("AZURE_SDK_RETRY_TOTAL", default=3)
AZURE_POLLING_INTERVAL = env.float("AZURE_POLLING_INTERVAL", default=5.0)
AZURE_CUSTOM_ROLE_NAME = env.str("AZURE_CUSTOM_ROLE_NAME", default="Connectivity Portal Peering")
# The Azure cloud the platform runs in, as `az cloud list` names it; empty: the cloud of
# AZURE_ARM_ENDPOINT (connectivity/azure/clouds.py). Private Link pre-flight refuses targets
# that show another cloud.
AZURE_CLOUD = env.str("AZURE_CLOUD", default="")
if AZURE_CLOUD and AZURE_CLOUD.lower() not in ("azurecloud", "azureusgovernment", "azurechinacloud"):
    raise ImproperlyConfigured(
        "AZURE_CLOUD must be AzureCloud, AzureUSGovernment or AzureChinaCloud (or empty).")
# Verifying as a cluster's workload identity (README, "Cluster workload identity"): the
# platform signs assertions as this issuer and subject; each identity's federated credential
# trusts them. The PEM key signs them (RS256); without one (simulator only) they are unsigned.
WORKLOAD_IDENTITY_ISSUER = env.str("WORKLOAD_IDENTITY_ISSUER",
                                   default=f"{SITE_URL.rstrip('/')}/workload-identity")
WORKLOAD_IDENTITY_SUBJECT = env.str("WORKLOAD_IDENTITY_SUBJECT",
                                    default="connectivity-portal:verifier")
WORKLOAD_IDENTITY_SIGNING_KEY_PATH = env.str("WORKLOAD_IDENTITY_SIGNING_KEY_PATH", default="") or None


def _bucket(name: str, default: str) -> tuple[float, float]:
    """A token bucket written ``burst/per_second`` (e.g. ``200/10``)."""
    value = env.str(name, default=default)
    try:
        burst, rate = (float(part) for part in value.split("/"))
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be burst/per_second, two numbers such as 200/10 (got {value!r}).") from None
    if burst < 1 or rate <= 0:
        raise ImproperlyConfigured(f"{name} needs a burst of at least 1 and a rate above 0 (got {value!r}).")
    return burst, rate


# connectivity.azure.pacing: ARM calls paced per application, subscription and kind against
# ARM's own token buckets (shared through Redis when REDIS_URL is set); a call waits at most
# AZURE_PACING_MAX_WAIT seconds for a token, else its step is rescheduled.
AZURE_PACING = env.bool("AZURE_PACING", default=True)
AZURE_PACING_READS = _bucket("AZURE_PACING_READS", "250/25")
AZURE_PACING_WRITES = _bucket("AZURE_PACING_WRITES", "200/10")
AZURE_PACING_DELETES = _bucket("AZURE_PACING_DELETES", "200/10")
AZURE_PACING_MAX_WAIT = env.float("AZURE_PACING_MAX_WAIT", default=0.5)
# The share of each burst left untouched at ARM, for requests that reach it late.
AZURE_PACING_RESERVE = env.float("AZURE_PACING_RESERVE", default=0.1)
if not 0 <= AZURE_PACING_RESERVE < 1:
    raise ImproperlyConfigured("AZURE_PACING_RESERVE must be a share from 0 up to (not including) 1.")
if AZURE_PACING_MAX_WAIT < 0:
    raise ImproperlyConfigured("AZURE_PACING_MAX_WAIT must be 0 or more seconds.")

# Key(s) for integration credentials encrypted at rest; first one encrypts, all decrypt.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- Workflow timings (seconds unless named otherwise) --------------------------------------
RECONCILE_STALE_AFTER = env.int("RECONCILE_STALE_AFTER", default=120)
RECONCILE_EVERY = env.int("RECONCILE_EVERY", default=60)
REVOKE_CHECK_EVERY = env.int("REVOKE_CHECK_EVERY", default=300)
REVOKE_REMINDER_FIRST_AFTER = env.int("REVOKE_REMINDER_FIRST_AFTER", default=3600)
REVOKE_REMINDER_EVERY = env.int("REVOKE_REMINDER_EVERY", default=86400)
DRIFT_CHECK_EVERY = env.int("DRIFT_CHECK_EVERY", default=300)
GRANT_PROPAGATION_WINDOW = env.int("GRANT_PROPAGATION_WINDOW", default=1800)
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=90)
# An API Idempotency-Key is replayed for this long, then purged (a later retry creates anew).
IDEMPOTENCY_KEY_RETENTION_HOURS = env.int("IDEMPOTENCY_KEY_RETENTION_HOURS", default=24)
# Provisioning retries: exponential backoff with jitter from BASE up to MAX seconds (never
# sooner than Azure's Retry-After), failing after MAX_ATTEMPTS; Connected polls wait at most
# POLL_MAX. A worker holds a VNet for at most VNET_LOCK_TTL seconds while writing to it.
PROVISIONING_RETRY_BASE = env.float("PROVISIONING_RETRY_BASE", default=2.0)
PROVISIONING_RETRY_MAX = env.float("PROVISIONING_RETRY_MAX", default=300.0)
PROVISIONING_MAX_ATTEMPTS = env.int("PROVISIONING_MAX_ATTEMPTS", default=20)
PROVISIONING_POLL_MAX = env.float("PROVISIONING_POLL_MAX", default=30.0)
VNET_LOCK_TTL = env.int("VNET_LOCK_TTL", default=30)
# A pre-flight that passed this many seconds before provisioning starts (an auto-approval right
# after the customer verified) is reused instead of read again from Azure.
PREFLIGHT_REUSE_SECONDS = env.float("PREFLIGHT_REUSE_SECONDS", default=60.0)
# Private Link endpoints live in the subnet of this name on the cluster's VNet
# (<cluster VNet>/subnets/<name>). While the customer has not approved one, it is read every
# POLL_EVERY seconds and they are reminded every REMINDER_EVERY seconds; after EXPIRE_DAYS it
# is deleted and they are told.
PRIVATE_ENDPOINT_SUBNET = env.str("PRIVATE_ENDPOINT_SUBNET", default="endpoints")
PRIVATE_ENDPOINT_POLL_EVERY = env.float("PRIVATE_ENDPOINT_POLL_EVERY", default=60.0)
PRIVATE_ENDPOINT_REMINDER_EVERY = env.int("PRIVATE_ENDPOINT_REMINDER_EVERY", default=86400)
PRIVATE_ENDPOINT_EXPIRE_DAYS = env.float("PRIVATE_ENDPOINT_EXPIRE_DAYS", default=14)
# How long before that expiry the organisation gets its one expiry notice (email and timeline).
PRIVATE_ENDPOINT_EXPIRY_NOTICE_DAYS = env.float("PRIVATE_ENDPOINT_EXPIRY_NOTICE_DAYS", default=3)
if not 0 <= PRIVATE_ENDPOINT_EXPIRY_NOTICE_DAYS < PRIVATE_ENDPOINT_EXPIRE_DAYS:
    raise ImproperlyConfigured("PRIVATE_ENDPOINT_EXPIRY_NOTICE_DAYS must be 0 or more and less "
                               "than PRIVATE_ENDPOINT_EXPIRE_DAYS.")

# Webhooks (connectivity/webhooks/): retries wait BASE * FACTOR ** (n - 1) seconds after attempt
# n, for MAX_ATTEMPTS attempts (defaults: about 27 hours); a rotated secret keeps signing for
# SECRET_OVERLAP seconds. Loopback receivers only for tests and the demo (never in production).
WEBHOOK_RETRY_BASE = env.float("WEBHOOK_RETRY_BASE", default=30.0)
WEBHOOK_RETRY_FACTOR = env.float("WEBHOOK_RETRY_FACTOR", default=3.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=9)
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)
WEBHOOK_SECRET_OVERLAP = env.int("WEBHOOK_SECRET_OVERLAP", default=86400)
WEBHOOK_SWEEP_EVERY = env.int("WEBHOOK_SWEEP_EVERY", default=60)
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=False)
WEBHOOK_LOG_RETENTION_DAYS = env.int("WEBHOOK_LOG_RETENTION_DAYS", default=30)

# Periodic jobs (connectivity/tasks.py); each expires rather than piling up while no worker runs.
CELERY_BEAT_SCHEDULE = {
    "reconcile": {"task": "connectivity.tasks.reconcile", "schedule": RECONCILE_EVERY,
                  "options": {"expires": RECONCILE_EVERY}},
    "revoke-watch": {"task": "connectivity.tasks.revoke_watch", "schedule": REVOKE_CHECK_EVERY,
                     "options": {"expires": REVOKE_CHECK_EVERY}},
    "drift-check": {"task": "connectivity.tasks.drift_check", "schedule": DRIFT_CHECK_EVERY,
                    "options": {"expires": DRIFT_CHECK_EVERY}},
    "webhook-sweep": {"task": "connectivity.tasks.webhook_sweep", "schedule": WEBHOOK_SWEEP_EVERY,
                      "options": {"expires": WEBHOOK_SWEEP_EVERY}},
    "webhook-purge": {"task": "connectivity.tasks.webhook_purge", "schedule": 86400,
                      "options": {"expires": 3600}},
    "audit-purge": {"task": "connectivity.tasks.audit_purge", "schedule": 86400,
                    "options": {"expires": 3600}},
    "idempotency-purge": {"task": "connectivity.tasks.idempotency_keys_purge", "schedule": 3600,
                          "options": {"expires": 3600}},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "azure": {"level": "WARNING"},
        "django.db.backends": {"level": "WARNING"},
    },
}
