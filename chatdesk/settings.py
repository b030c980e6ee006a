"""ChatDesk settings, read only from environment variables (CONTRACT section 1).

With nothing set the project runs on a SQLite file and the in-memory channel
layer with DEBUG on; DATABASE_URL and REDIS_URL switch it to PostgreSQL and
channels_redis, which is how production and CI run it.
"""
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0")
    SECRET_KEY = "chatdesk-insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()]
if DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    # Redoc's script served from our own static files: /api/docs/ works offline and under our CSP.
    "drf_spectacular_sidecar",
    "huey.contrib.djhuey",
    "csp",
    "chatdesk",
    "agents",
    "shopper_widget",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # WhiteNoise serves the widget and console scripts (compressed, cached)
    # from any Daphne process, so no separate static host is needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "chatdesk.urls"
ASGI_APPLICATION = "chatdesk.asgi.application"
WSGI_APPLICATION = None

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

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    # No per-request health check: it is a `SELECT 1` round trip before every
    # websocket frame's work. A connection broken by a database restart fails
    # its next query instead; that frame gets a retryable `unavailable` error
    # (nothing is acknowledged unless stored) and the connection is replaced.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=False)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("CHATDESK_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Several writers (two tabs, an agent) hit one file: wait for the
            # lock instead of failing at once.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
            "TEST": {"NAME": os.environ.get("CHATDESK_SQLITE_TEST_PATH", str(BASE_DIR / "test-db.sqlite3"))},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# CHATDESK_CHANNEL_LAYER=pubsub (opt-in) uses Redis pub/sub: about twice the
# relay throughput of the default list-based layer (bench/README.md), but a
# Redis reconnect can lose events in flight. ChatDesk keeps its guarantees
# either way because the database is the record: clients resync by `seq`
# after any reconnect (hello/sync), and nothing is acknowledged before it is
# stored. The default stays the list-based layer, which survives a brief
# Redis blip without losing queued events.
CHANNEL_LAYER_KIND = os.environ.get("CHATDESK_CHANNEL_LAYER", "redis").strip().lower() or "redis"
if CHANNEL_LAYER_KIND not in ("redis", "pubsub"):
    raise ImproperlyConfigured("CHATDESK_CHANNEL_LAYER must be 'redis' (the default) or 'pubsub'")
if REDIS_URL and CHANNEL_LAYER_KIND == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "chatdesk.layers.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": os.environ.get("CHATDESK_LAYER_PREFIX", "chatdesk"),
            },
        }
    }
elif REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis' layer with a two-round-trip group send (chatdesk/layers.py).
            "BACKEND": "chatdesk.layers.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                # The default of 100 silently drops group members' messages
                # under load; the database stays the record either way.
                "capacity": int(os.environ.get("CHATDESK_LAYER_CAPACITY", "5000")),
                "expiry": 60,
                "group_expiry": 86400,
                "prefix": os.environ.get("CHATDESK_LAYER_PREFIX", "chatdesk"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Django's cache holds the store API's per-key request counters (chatdesk.storeapi.throttle): Redis when
# there is one, so that every Daphne process counts together; process memory otherwise (one process).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CHATDESK_LAYER_PREFIX", "chatdesk"),
            # A slow Redis costs a request two seconds at most, then the limit fails open.
            "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "chatdesk"}}
# Store API requests per site API key: RATE on average, BURST at once ("off" turns the limit off).
CHATDESK_API_RATE = os.environ.get("CHATDESK_API_RATE", "600/min")
CHATDESK_API_BURST = int(os.environ.get("CHATDESK_API_BURST", "100"))

# Socket limits (docs/security.md). Shoppers behind one NAT share an address,
# so the per-address cap is generous; 0 turns it off.
CHATDESK_WIDGET_MAX_CONNECTIONS_PER_ADDRESS = int(os.environ.get("CHATDESK_WIDGET_MAX_CONNECTIONS_PER_ADDRESS", "50"))
# Unsent bytes Daphne may hold for one socket before dropping a client that stopped reading.
CHATDESK_WS_MAX_SEND_BUFFER_BYTES = int(os.environ.get("CHATDESK_WS_MAX_SEND_BUFFER_BYTES", str(1024 * 1024)))
# How often each process checks that Redis kept its events (see chatdesk.layer_watch).
CHATDESK_LAYER_WATCH_SECONDS = float(os.environ.get("CHATDESK_LAYER_WATCH_SECONDS", "2"))

# Huey: SQLite storage on the zero-configuration default, Redis in production.
HUEY_IMMEDIATE = env_bool("HUEY_IMMEDIATE", False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": os.environ.get("CHATDESK_LAYER_PREFIX", "chatdesk"),
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "chatdesk",
        "filename": os.environ.get("CHATDESK_HUEY_PATH", str(BASE_DIR / "huey.sqlite3")),
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Without collectstatic (demo, tests) WhiteNoise finds files where they live.
WHITENOISE_USE_FINDERS = not (STATIC_ROOT / "staticfiles.json").exists() or DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Staff tokens for /api/v1/reports/ expire after this many days (chatdesk.reports.auth).
REPORTS_TOKEN_MAX_AGE_DAYS = int(os.environ.get("CHATDESK_REPORTS_TOKEN_DAYS", "90"))

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"  # chatdesk.reports.views.landing sends each role to its page
LOGOUT_REDIRECT_URL = "/accounts/login/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy (django-csp 4). Pages use only our own scripts,
# styles and sockets; images may come from store CDNs (cart line images).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "https:", "http:"],
        "connect-src": ["'self'", "ws:", "wss:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["chatdesk.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ChatDesk store server API",
    "DESCRIPTION": "Trusted carts, orders and reports for stores running ChatDesk.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "REDOC_DIST": "SIDECAR",
}

EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "ChatDesk <noreply@localhost>")
PUBLIC_BASE_URL = os.environ.get("CHATDESK_PUBLIC_URL", "http://127.0.0.1:8000")

# Follow-up email (docs/offers-and-followups.md): SMTP from DJANGO_EMAIL_*,
# or a provider through django-anymail configured by ANYMAIL_* variables,
# e.g. DJANGO_EMAIL_BACKEND=anymail.backends.postmark.EmailBackend and
# ANYMAIL_POSTMARK_SERVER_TOKEN=... (becomes ANYMAIL["POSTMARK_SERVER_TOKEN"]).
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("DJANGO_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("DJANGO_EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 20
ANYMAIL = {k[len("ANYMAIL_"):]: v for k, v in os.environ.items() if k.startswith("ANYMAIL_") and len(k) > 8}

# Follow-up SMS: the logging backend in the demo, Twilio in production.
CHATDESK_SMS_BACKEND = os.environ.get("CHATDESK_SMS_BACKEND", "chatdesk.sms.LoggingBackend")
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "")
TWILIO_API_BASE = os.environ.get("TWILIO_API_BASE", "https://api.twilio.com")
CHATDESK_RECOVERY_LINK_DAYS = int(os.environ.get("CHATDESK_RECOVERY_LINK_DAYS", "30"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CHATDESK_LOG_LEVEL", "WARNING")},
    # channels_redis reports events dropped for a full channel (over
    # `capacity`) at INFO only: keep that line visible, never silent.
    "loggers": {"channels_redis": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
