"""Django settings, read from the environment (django-environ).

Defaults run a local instance on SQLite under ./var; production sets DATABASE_URL (PostgreSQL),
SECRET_KEY, ALLOWED_HOSTS and DEBUG explicitly.
"""

from __future__ import annotations

from pathlib import Path

import environ
from whitenoise.compress import Compressor

BASE_DIR = Path(__file__).resolve().parents[3]
PACKAGE_DIR = Path(__file__).resolve().parents[1]
VAR_DIR = Path(environ.Env().str("SHIEN_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost", "[::1]"]),
)

DEBUG = env("DEBUG")
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    # a local instance gets a key of its own, kept beside its database
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()
ALLOWED_HOSTS = env("ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves the API docs' assets locally (no CDN)
    "csp",
    "axes",  # login throttling per address and per account+address (shien.accounts.throttle)
    "django_otp",  # two-factor login (TOTP devices, backup codes)
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_tasks",  # background tasks (the emails), run by a worker process of their own
    "django_tasks_db",  # the task queue in the database (`shien manage db_worker`)
    "shien.accounts",
    "shien.core",
    "shien.programs",
    "shien.navigator",
    "shien.applications",
    "shien.portal",  # on top of the domain apps: home, inbox, demo data, commands
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "shien.core.middleware.RequestBodyLimitMiddleware",  # 413 before an oversized body is read
    "shien.core.middleware.PrivatePageMiddleware",  # Cache-Control: no-store on personal pages
    "shien.core.middleware.VaryOnHtmxMiddleware",  # fragment and page at one URL: caches keep both apart
    "shien.core.middleware.MethodNotAllowedPageMiddleware",  # a POST-only address opened: a page, not a blank
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "axes.middleware.AxesMiddleware",  # a throttled login: the Japanese page (shien.accounts.throttle)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "shien.core.middleware.DomainErrorMiddleware",  # an uncaught DomainError: the refusal page, its status
]

ROOT_URLCONF = "shien.web.urls"
CSRF_FAILURE_VIEW = "shien.core.middleware.csrf_failure"
WSGI_APPLICATION = "shien.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'shien.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int(
    "CONN_MAX_AGE", default=60
)  # persistent connections per worker
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # several processes share the file (server workers, the task worker, cron commands): WAL (readers
    # never wait for a writer), writers take the lock when their transaction begins (IMMEDIATE: no
    # deadlocked upgrade from read to write) and wait up to 20 s for another process's write
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "mypage"
LOGOUT_REDIRECT_URL = "home"
SHIEN_DEMO = env.bool("SHIEN_DEMO", default=False)  # set by `shien serve --demo`
# the demo and DEBUG keep mail in a mailbox page (/dev/mail/) instead of sending it
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="shien.core.devmail.MailboxBackend"
    if DEBUG or SHIEN_DEMO
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="shien <noreply@localhost>")
SITE_URL = env.str("SITE_URL", default="http://localhost:8000")  # links in emails
# emails go through the task queue after the commit (requests never wait on the mail server); the
# worker is `shien manage db_worker`, started by `shien serve`. Unsent mail: `deliver_mail` (cron).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)  # seconds: a mail server that stops answering
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a throttled address before any password is hashed
    "shien.accounts.backends.EmailBackend",  # email + password
    "shien.accounts.backends.ExternalIdentityBackend",  # sessions of OpenID Connect logins
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
CACHES = {
    "default": env.cache("CACHE_URL", default="locmemcache://shien")
}  # per process; pages are cached by minute

LANGUAGE_CODE = "ja"
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
# whole request bodies (files included) over this get 413 before they are read (core.middleware)
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=12 * 1024 * 1024)
REQUEST_BODY_LIMITS = {"results-report": 50 * 1024 * 1024}  # one evidence file per ledger row

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise scans it at start-up
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_MANIFEST_STRICT = False  # before collectstatic (tests, first run) fall back to plain names
# source maps are fetched only by browser developer tools; compressing them took 2/3 of collectstatic
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")

# Content-Security-Policy: scripts and styles only from this site (htmx is served from /static/)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)  # set (e.g. 31536000) when served over HTTPS
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
)
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SAMESITE = "Lax"
# Secure cookies unless DEBUG; SECURE_COOKIES=false only for a local instance on plain http (the demo)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}

# --- Two-factor login and OpenID Connect login (shien.accounts.twofactor, shien.accounts.oidc) ---
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="shien")  # the name shown in authenticator apps
# waits of 1, 2, 4, 8 s after wrong codes; the 5th wrong code in a row locks login for 15 minutes
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 0  # wrong backup codes count on the TOTP device's counter instead
OIDC_ENABLED = env.bool("OIDC_ENABLED", default=False)
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="GビズID")  # 「GビズIDでログイン」
# endpoints from discovery at <issuer>/.well-known/openid-configuration (or OIDC_OP_DISCOVERY_URL);
# each OIDC_OP_*_ENDPOINT set here overrides the discovered one
OIDC_OP_ISSUER = env.str("OIDC_OP_ISSUER", default="")
OIDC_OP_DISCOVERY_URL = env.str("OIDC_OP_DISCOVERY_URL", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")  # comma-separated; keys from the JWKS
# default: <this site>/accounts/oidc/callback/ (as registered with the provider)
OIDC_RP_REDIRECT_URI = env.str("OIDC_RP_REDIRECT_URI", default="")
# client_secret_basic or client_secret_post
OIDC_TOKEN_AUTH_METHOD = env.str("OIDC_TOKEN_AUTH_METHOD", default="client_secret_basic")
OIDC_USE_PKCE = env.bool("OIDC_USE_PKCE", default=True)  # S256, unless discovery says it is unsupported
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT", default=10.0)  # seconds per request to the provider
OIDC_MFA_AMR = env.list("OIDC_MFA_AMR", default=["mfa"])  # amr values that stand for our TOTP step
# --- end of two-factor / OpenID Connect settings ---

# --- Login throttling (django-axes; shien.accounts.throttle) ---
# An address that fails AXES_IP_FAILURE_LIMIT times (on any accounts) is refused for the cool-off; one
# account from one address after AXES_FAILURE_LIMIT. There is no lock by account alone, so nobody can
# lock a user out from another address. A refused attempt is answered before any password is hashed.
AXES_HANDLER = "shien.accounts.throttle.ThrottleHandler"
AXES_LOCKOUT_PARAMETERS = ["ip_address", ["username", "ip_address"]]
AXES_FAILURE_LIMIT = 5  # one account from one address
AXES_IP_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=30)  # one address, any accounts
AXES_COOLOFF_TIME = 0.25  # hours: 15 minutes
AXES_RESET_ON_SUCCESS = True  # (the handler resets that account+address only)
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # tries while refused do not extend the wait
AXES_DISABLE_ACCESS_LOG = True  # successful logins are not recorded by axes
AXES_USERNAME_CALLABLE = "shien.accounts.throttle.username"
AXES_CLIENT_IP_CALLABLE = "shien.accounts.throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "shien.accounts.throttle.lockout_response"
# behind a TLS proxy the client is the address the nearest proxy adds to X-Forwarded-For (one proxy
# unless TRUSTED_PROXY_COUNT says more); otherwise REMOTE_ADDR, and the header is ignored
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if SECURE_PROXY_SSL_HEADER else 0)
# --- end of login throttling ---

# --- Mail to typed addresses: sign-up, password reset, invitations (shien.accounts.mail_throttle) ---
# per address and kind: mails in the window (beyond: the same answer, no mail); per client (IP, or the
# inviting user): requests in the window (beyond: 429). Counts in the database (accounts.MailRequest),
# pruned after MAIL_REQUEST_RETENTION seconds by the requests themselves.
MAIL_REQUEST_LIMIT_PER_ADDRESS = env.int("MAIL_REQUEST_LIMIT_PER_ADDRESS", default=3)
MAIL_REQUEST_LIMIT_PER_CLIENT = env.int("MAIL_REQUEST_LIMIT_PER_CLIENT", default=10)
MAIL_REQUEST_WINDOW = env.int("MAIL_REQUEST_WINDOW", default=60 * 60)  # seconds
MAIL_REQUEST_RETENTION = env.int("MAIL_REQUEST_RETENTION", default=24 * 60 * 60)  # seconds
