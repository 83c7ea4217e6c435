"""Settings, all read from environment variables (documented in README.md)."""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default):
    return os.environ.get(name, default)


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, got {value!r}")


def env_int(name, default, *, minimum=None):
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be {minimum} or more, got {number}")
    return number


def env_list(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(name, default):
    """A comma-separated list of IP addresses or CIDR networks."""
    try:
        return [ipaddress.ip_network(item) for item in env_list(name, default)]
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}") from None


VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
# Development and tests only: `make serve` refuses to start without a SECRET_KEY.
SECRET_KEY = env_str("SECRET_KEY", "") or "insecure-development-key-change-me"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The proxies whose X-Forwarded-For is believed (regards_catalog.auth.client_address).
# Loopback: nginx on the same host; a direct client's own header is never believed.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES", ["127.0.0.1", "::1"])
# Absolute base for download URLs in search results; empty = taken from the request.
# The REGARDS project (tenant) this catalog stands for: the token's `scope` and `tenant`.
PROJECT_NAME = env_str("PROJECT_NAME", "regards")
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the docs page's scripts, served from here: no CDN needed
    "regards_catalog",  # authentication: the login throttle's counters
    "products",
    "downloads",
]

MIDDLEWARE = [
    "regards_catalog.middleware.RequestTurnsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin, API docs) straight from gunicorn; nginx may serve them instead.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "regards_catalog.middleware.RejectNulCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "regards_catalog.urls"
WSGI_APPLICATION = "regards_catalog.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded default works on a fresh clone
    # Django's, with the writers of a process queued on a lock (see its docstring).
    DATABASES["default"]["ENGINE"] = "regards_catalog.sqlite_backend"
    DATABASES["default"]["OPTIONS"] = {
        # Concurrent downloads write records and counters: WAL lets readers go on,
        # IMMEDIATE takes the write lock up front so transactions never deadlock on upgrade.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"  # filled by collectstatic (make serve)
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing one
# `make run` skips collectstatic: in DEBUG, whitenoise finds the files in the apps.
WHITENOISE_USE_FINDERS = DEBUG

SESSION_COOKIE_SECURE = not DEBUG and env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "regards_catalog.auth.BearerTokenAuthentication",
        "regards_catalog.auth.QueryTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "regards_catalog.renderers.HTMLPageRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "regards_catalog.parsers.JSONParser",  # bounds the nesting of a body
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "regards_catalog.negotiation.FallbackContentNegotiation",
    "EXCEPTION_HANDLER": "regards_catalog.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

TOKEN_TTL_HOURS = env_int("TOKEN_TTL_HOURS", 24)
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=TOKEN_TTL_HOURS),
    "AUTH_HEADER_PREFIX": "Bearer",
    "AUTO_REFRESH": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "REGARDS Catalog API",
    "DESCRIPTION": "Search Earth-observation products and download their files.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Storage locations (SPEC §5): a JSON file, or local folders under var/storage.
STORAGE_CONFIG = env_str("STORAGE_CONFIG", "")
STORAGE_DEFAULT_ROOT = VAR_DIR / "storage"
# "nginx": local files are handed to nginx with X-Accel-Redirect; "" = Django sends them.
DOWNLOAD_OFFLOAD = env_str("DOWNLOAD_OFFLOAD", "")
RESTORE_AVAILABILITY_HOURS = env_int("RESTORE_AVAILABILITY_HOURS", 24)
# How often process_restores asks a storage that restores in the background (S3 Glacier)
# whether a copy is ready.
RESTORE_POLL_SECONDS = env_int("RESTORE_POLL_SECONDS", 60)
# Most files one bulk download (zip or Metalink manifest of a search) may hold.
BULK_MAX_FILES = env_int("BULK_MAX_FILES", 10_000)
# Lifetime of the presigned URL a download of an s3 location with "redirect": true gets.
S3_PRESIGN_SECONDS = env_int("S3_PRESIGN_SECONDS", 300)
# Signed download links (downloads/signed_links.py): their default and longest lifetime.
SIGNED_LINK_SECONDS = env_int("SIGNED_LINK_SECONDS", 3600)
SIGNED_LINK_MAX_SECONDS = env_int("SIGNED_LINK_MAX_SECONDS", 24 * 3600)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_tokens": {"()": "regards_catalog.log.MaskTokensFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["mask_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# Requests a worker process runs at once, and how long a request waits for its turn before
# it goes ahead anyway (regards_catalog.middleware.RequestTurnsMiddleware).
REQUEST_CONCURRENCY = env_int("REQUEST_CONCURRENCY", 2, minimum=1)
REQUEST_TURN_WAIT_MS = env_int("REQUEST_TURN_WAIT_MS", 50, minimum=0)

# Quotas: a download slot is a lease renewed while streaming; a killed worker's slot
# frees itself after SLOT_LEASE_SECONDS.
SLOT_LEASE_SECONDS = env_int("SLOT_LEASE_SECONDS", 60)
# A download whose client reads nothing for this long is closed (and recorded ABORTED).
DOWNLOAD_STALL_SECONDS = env_int("DOWNLOAD_STALL_SECONDS", 60)
RATE_LIMIT_RETRY_AFTER = env_int("RATE_LIMIT_RETRY_AFTER", 10)

# Login throttling (regards_catalog.throttling): failed logins allowed per account and per
# client address in each window; a refused login waits for the next window.
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 10)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 50)
LOGIN_THROTTLE_SECONDS = env_int("LOGIN_THROTTLE_SECONDS", 900)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "account"
RESTORE_RETRY_AFTER = env_int("RESTORE_RETRY_AFTER", 60)
# A GET of a nearline file not restored queues its restore and answers 202, as REGARDS
# does, instead of 409 restore_required. Off by default: a crawler following download
# links would recall tape after tape.
RESTORE_ON_DOWNLOAD = env_bool("RESTORE_ON_DOWNLOAD", False)
