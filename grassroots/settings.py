"""One settings module for the laptop and production; production sets the environment.

Environment variables (all optional in development):
  DATABASE_URL            postgres://user@host:5432/db (default: SQLite under var/)
  SECRET_KEY[_FILE]       required when DEBUG is off
  DEBUG                   on in development, set DEBUG=0 in production
  ALLOWED_HOSTS           comma separated
  CSRF_TRUSTED_ORIGINS    comma separated, e.g. https://grassroots.example.gov.cn
  GRASSROOTS_VAR_DIR      where the SQLite database and uploads live (default ./var)
  STATIC_MANIFEST         serve collectstatic's hashed files (default: on when DEBUG is off)
  SECURE_COOKIES          HTTPS-only cookies (default: on when DEBUG is off or BEHIND_HTTPS_PROXY is on)
  BEHIND_HTTPS_PROXY      a TLS-terminating reverse proxy in front sets X-Forwarded-Proto (default off):
                          requests it marks https are secure, cookies are HTTPS-only
  HSTS_SECONDS            Strict-Transport-Security max-age on HTTPS answers (default 31536000; 0 = off)
  HSTS_INCLUDE_SUBDOMAINS add includeSubDomains to it (default on)
  SECURE_SSL_REDIRECT     redirect plain-HTTP requests to HTTPS (default off)
  MAP_TILE_URL            a tile server template; empty means no base map tiles
  API_DOCS_PUBLIC         serve /api/docs and /api/openapi.json to anyone (default off: only to a
                          signed-in session or a valid API token; docs/api.md)
  SESSION_IDLE_MINUTES    idle session expiry (default 480)
  LOGIN_FAILURE_LIMIT     failed logins before lockout (default 5)
  LOGIN_LOCKOUT_MINUTES   lockout length (default 15)
  PROXY_COUNT             reverse proxies of our own in front (default 0): the client's address is then the
                          PROXY_COUNT-th X-Forwarded-For entry from the right (grassroots/lib/net.py), for
                          the rate limits, the login lockout and the audit log alike
  SQLITE_CACHE_MB         SQLite page cache per connection (default 64)
  SQLITE_MMAP_MB          SQLite memory map (default 256)
  PRIVACY_KEY[_FILE]      seals ID numbers and phones at rest and keys their search digests
                          (grassroots/lib/privacy.py); required when DEBUG is off. LEDGER_KEY[_FILE]
                          is read when PRIVACY_KEY is unset (its name before 2026-12)
  PRIVACY_OLD_KEYS[_FILE] earlier keys still read during `grassroots rotate-key` (comma separated,
                          or one per line in the file); remove them once the rotation is done
  RATE_LIMIT_TRACK        /track/ lookups per caller: signed-in user, else client address (default 30/m)
  RATE_LIMIT_OPEN311      Open311 reads per API key, signed-in user or client address (default 60/m)
  RATE_LIMIT_MISS         failed lookups (unknown tracking code / request id) per caller and endpoint
                          family; once spent that caller's lookups there wait for the window (default 20/10m)
  RATE_LIMIT_BAD_TOKEN    invalid/revoked/expired Bearer tokens or api_keys per client address; past it
                          token requests from there get 429 before any token lookup (default 20/10m)
  RATE_LIMIT_REDIS_URL    count the limits in Redis (redis://host:6379/2); default: the database
                          (table lib_ratecounter, ended windows purged by `grassroots worker`)
  REQUEST_BODY_MAX_MB     largest request body, refused with 413 before it is read (default 10)
  REQUEST_BODY_IMPORT_MAX_MB  the same for the sheet import pages /ledger/import/, /territory/import/ (default 40)
  (rates are "count/period", period s, m, h or d, e.g. 10/5m; empty or 0 switches a limit off; docs/limits.md)
  NOTIFICATION_BACKENDS   comma separated: log (default), webhook, sms
  SMS_BACKEND             one-time codes for residents: log (default: the log, phone masked), gateway
                          (POST JSON to SMS_GATEWAY_URL) or a dotted path (grassroots/lib/sms.py)
  SMS_CODE_MINUTES        how long a code is valid (default 5); SMS_CODE_ATTEMPTS tries per code (5)
  RATE_LIMIT_SMS_PHONE    codes per phone (default 5/h); RATE_LIMIT_SMS_ADDRESS per client address (20/h)
  BACKUP_DIR              where `grassroots backup` writes when no --output is given (default var/backups)
  PG_BIN_DIR              the folder of pg_dump / pg_restore when they are not on PATH
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from grassroots.lib.env import envbool, envint, envlist, envstr
from grassroots.lib.headers import tile_source as _tile_source_of

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(envstr("GRASSROOTS_VAR_DIR", str(Path.cwd() / "var")))

DEBUG = envbool("DEBUG", True)
SECRET_KEY = envstr("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off")
    SECRET_KEY = "development-only-not-secret"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "csp",
    "axes",
    "grassroots.lib",
    "grassroots.territory",
    "grassroots.accounts",
    "grassroots.ledger",
    "grassroots.cases",
    "grassroots.disputes",
    "grassroots.front",
    "grassroots.api",
    "grassroots.generator",
    "grassroots.operations",
]

MIDDLEWARE = [
    # First, so it sees every answer: errors under /api/ as JSON, under /open311/v2/ in Open311's format.
    "grassroots.api.middleware.ErrorFormatMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "grassroots.lib.headers.PermissionsPolicyMiddleware",  # headers only: neither reads the body
    # Before anything that can read the body: 413 before it is read (lib/middleware.py). A
    # middleware above it that touched request.POST or request.body would read a body the cap
    # refuses, and would see a chunked body as empty.
    "grassroots.lib.middleware.BodyCapMiddleware",
    # After the cap, because it reads the body: a NUL character under /api/ or /open311/ is a 4xx.
    "grassroots.api.middleware.NulGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # 429 pages for lib.ratelimit.Throttled.
    "grassroots.lib.middleware.ThrottledMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "grassroots.accounts.middleware.PasswordChangeMiddleware",
    "grassroots.front.middleware.DeniedMiddleware",
]

ROOT_URLCONF = "grassroots.urls"
WSGI_APPLICATION = "grassroots.wsgi.application"

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
                "grassroots.front.context.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{VAR_DIR / 'grassroots.sqlite3'}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default lives under var/; make the folder so a fresh checkout just works.
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        Path(DATABASES["default"]["NAME"]).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # WAL lets the worker and the web server share the file; IMMEDIATE avoids lock upgrades.
    # A page cache of SQLITE_CACHE_MB per connection (SQLite's default is 2 MB) and the file
    # mapped into memory: at a million cases the indexes a write touches no longer fit in 2 MB,
    # and every miss was a read call (bench/cases.py).
    _cache_kib = envint("SQLITE_CACHE_MB", 64) * 1024
    _mmap = envint("SQLITE_MMAP_MB", 256) * 1024 * 1024
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (f"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-{_cache_kib}; "
                         f"PRAGMA mmap_size={_mmap}; PRAGMA temp_store=MEMORY;"),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": envstr("SQLITE_TEST_NAME", "")} if envstr("SQLITE_TEST_NAME") else {}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Every password anyone sets (the change form, an administrator's form, the API, the account sheet,
# create_staff) passes these, with Chinese messages (accounts/validators.py).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "grassroots.accounts.validators.UserAttributeSimilarityValidator",
     "OPTIONS": {"user_attributes": ("username", "full_name", "email")}},
    {"NAME": "grassroots.accounts.validators.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "grassroots.accounts.validators.CommonPasswordValidator"},
    {"NAME": "grassroots.accounts.validators.NumericPasswordValidator"},
]
# Residents' one-time SMS codes (accounts.services.send_code, grassroots/lib/sms.py).
SMS_BACKEND = envstr("SMS_BACKEND", "log")
SMS_GATEWAY_URL = envstr("SMS_GATEWAY_URL", "")
SMS_CODE_MINUTES = envint("SMS_CODE_MINUTES", 5)
SMS_CODE_ATTEMPTS = envint("SMS_CODE_ATTEMPTS", 5)
SMS_RESEND_SECONDS = envint("SMS_RESEND_SECONDS", 60)
RATE_LIMIT_SMS_PHONE = envstr("RATE_LIMIT_SMS_PHONE", "5/h")
RATE_LIMIT_SMS_ADDRESS = envstr("RATE_LIMIT_SMS_ADDRESS", "20/h")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# /api/docs and /api/openapi.json describe every endpoint and parameter: by default only a
# signed-in session or a valid API token reads them; API_DOCS_PUBLIC=1 publishes them.
API_DOCS_PUBLIC = envbool("API_DOCS_PUBLIC", False)

# Sessions expire after a period of inactivity, and when the browser closes.
SESSION_COOKIE_AGE = envint("SESSION_IDLE_MINUTES", 480) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
BEHIND_HTTPS_PROXY = envbool("BEHIND_HTTPS_PROXY", False)
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", BEHIND_HTTPS_PROXY or not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Lockout after repeated failures (django-axes), per username and address.
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envint("LOGIN_LOCKOUT_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False
# The same client address as the rate limits and the audit log (lib/net.py, PROXY_COUNT).
AXES_CLIENT_IP_CALLABLE = "grassroots.lib.net.client_ip"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
# Uploads (case photos…) and the folders made for them are readable by the platform's account only.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700


def _leaflet_dir() -> str:
    import xstatic.pkg.leaflet

    return xstatic.pkg.leaflet.BASE_DIR


STATICFILES_DIRS = [("vendor/leaflet", _leaflet_dir())]
# Production serves hashed, compressed files made by `collectstatic`; development and the
# demo serve straight from the installed packages (STATIC_MANIFEST=0).
STATIC_MANIFEST = envbool("STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
if not STATIC_MANIFEST:
    import warnings

    # In development static files come from the finders; var/static exists only after collectstatic.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

# Map: no base tiles unless a deployment has its own tile server (no network at run time).
MAP_TILE_URL = envstr("MAP_TILE_URL", "")
MAP_TILE_ATTRIBUTION = envstr("MAP_TILE_ATTRIBUTION", "")

# Output that cannot be turned into code (docs/security.md).
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_HTTPS_PROXY else None
# Django sends Strict-Transport-Security only on answers to HTTPS requests (behind the proxy: the
# ones it marked https), so plain-HTTP development never sees it.
SECURE_HSTS_SECONDS = envint("HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_REFERRER_POLICY = "same-origin"
PERMISSIONS_POLICY = "geolocation=(self), camera=(self), microphone=(), payment=(), usb=()"
# No inline script, no inline style, no plug-ins, no framing, forms post here only. Scripts and
# styles are static files; data reaches them through json_script and data- attributes. Map tiles
# may come from the configured tile server (MAP_TILE_URL).
_tile_source = _tile_source_of(MAP_TILE_URL)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *([_tile_source] if _tile_source else [])],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# Cases: the default classifier model (trained on first use when missing), uploads, notifications.
CLASSIFIER_MODEL_PATH = Path(envstr("CLASSIFIER_MODEL_PATH", str(VAR_DIR / "models" / "classifier.joblib")))
CASE_UPLOAD_MAX_BYTES = envint("CASE_UPLOAD_MAX_MB", 10) * 1024 * 1024
CASE_UPLOAD_TYPES = envlist("CASE_UPLOAD_TYPES", ["image/jpeg", "image/png", "image/webp", "application/pdf"])
CASE_EVALUATION_WORKDAYS = envint("CASE_EVALUATION_WORKDAYS", 3)
NOTIFICATION_BACKENDS = envlist("NOTIFICATION_BACKENDS", ["log"])
NOTIFICATION_WEBHOOK_URL = envstr("NOTIFICATION_WEBHOOK_URL", "")

# How often a process re-checks whether grids changed elsewhere (seconds).
GRID_INDEX_CHECK_SECONDS = envint("GRID_INDEX_CHECK_SECONDS", 5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Personal data (lib/privacy.py): the key that seals every ID number and phone at rest (AES-GCM)
# and keys their search digests (HMAC-SHA256). Any long random string, e.g.
# `python -c "import secrets; print(secrets.token_urlsafe(48))"`, kept apart from SECRET_KEY and
# from the backups (docs/operations.md). In development it is derived from SECRET_KEY. Changing it
# without `grassroots rotate-key` (old key in PRIVACY_OLD_KEYS meanwhile) makes stored values unreadable.
PRIVACY_KEY = envstr("PRIVACY_KEY", "") or envstr("LEDGER_KEY", "")
if not PRIVACY_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("PRIVACY_KEY (or PRIVACY_KEY_FILE) must be set when DEBUG is off")
    PRIVACY_KEY = "ledger-derived:" + SECRET_KEY


def _old_keys() -> list[str]:
    """PRIVACY_OLD_KEYS: comma separated, or PRIVACY_OLD_KEYS_FILE: one key per line."""
    text = envstr("PRIVACY_OLD_KEYS", "") or ""
    return [k.strip() for k in text.replace(",", "\n").splitlines() if k.strip()]


PRIVACY_OLD_KEYS = _old_keys()
# At most this many persons in one ledger export with whole ID numbers and phones (each read audited).
LEDGER_FULL_EXPORT_MAX = envint("LEDGER_FULL_EXPORT_MAX", 2000)

# Disputes and petitions (矛盾纠纷、信访); see docs/disputes.md.
# A dispute goes to the street's, then the district's mediation centre (矛调中心) when any
# threshold of that tier is reached (risk level, people involved, amount in yuan).
DISPUTE_ESCALATION = {
    "street": {"risk": "major", "people": 10, "amount": 100_000},
    "district": {"risk": "serious", "people": 30, "amount": 1_000_000},
}
DISPUTE_MEDIATION_DAYS = envint("DISPUTE_MEDIATION_DAYS", 30)  # from acceptance, for the on-time rate
DISPUTE_CONFIRM_DAYS = 30  # 人民调解法 第33条
DISPUTE_CONFIRM_WARN_DAYS = envint("DISPUTE_CONFIRM_WARN_DAYS", 5)  # remind this many days before the window closes
DISPUTE_FOLLOW_UP_DAYS = envint("DISPUTE_FOLLOW_UP_DAYS", 7)  # follow up this many days after the performance date
# Screening rounds (排查): how often each tier screens, "week" or "month".
DISPUTE_SCREENING = {"community": "week", "street": "month", "district": "month"}
# 信访工作条例 (2022) limits in days; 条例 counts 日 (calendar days) — set PETITION_WORKDAYS=1 to
# count working days (chinese-calendar) where local rules say so.
PETITION_LIMITS = {"accept": 15, "handle": 60, "extension": 30, "request": 30, "answer": 30}
PETITION_WORKDAYS = envbool("PETITION_WORKDAYS", False)
PETITION_WARN_DAYS = envint("PETITION_WARN_DAYS", 3)
LAW_CORPUS_DIR = Path(envstr("LAW_CORPUS_DIR", str(VAR_DIR / "laws")))

# Backups (grassroots/operations, docs/operations.md): `grassroots backup` writes here unless
# --output says otherwise; pg_dump / pg_restore come from PG_BIN_DIR when set, else from PATH.
BACKUP_DIR = Path(envstr("BACKUP_DIR", str(VAR_DIR / "backups")))
PG_BIN_DIR = envstr("PG_BIN_DIR", "")

# Exactly-once creates (grassroots/lib/idempotency.py): form tokens and API Idempotency-Keys are
# kept this many hours, then the worker purges them; a retry after that creates anew.
IDEMPOTENCY_KEEP_HOURS = envint("IDEMPOTENCY_KEEP_HOURS", 24)

# Rate limits (grassroots/lib/ratelimit.py, docs/limits.md): "count/period", period s/m/h/d
# ("10/5m" = ten per five minutes); empty or 0 switches a limit off. Counted per caller: a valid
# API key per key, a signed-in user per account, only anonymous callers per client address.
RATE_LIMIT_TRACK = envstr("RATE_LIMIT_TRACK", "30/m")  # /track/ lookups
RATE_LIMIT_OPEN311 = envstr("RATE_LIMIT_OPEN311", "60/m")  # Open311 GET requests / requests/{id} / tokens/{token}
RATE_LIMIT_MISS = envstr("RATE_LIMIT_MISS", "20/10m")  # failed lookups, per caller and family (track, open311)
RATE_LIMIT_BAD_TOKEN = envstr("RATE_LIMIT_BAD_TOKEN", "20/10m")  # bad Bearer tokens / api_keys per client address
# Where the counters live: the database (lib.RateCounter, shared by every process), or Redis.
RATE_LIMIT_REDIS_URL = envstr("RATE_LIMIT_REDIS_URL", "")
# X-Forwarded-For is believed only behind this many reverse proxies of our own (0: never); lib/net.py.
PROXY_COUNT = envint("PROXY_COUNT", 0)

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Request bodies larger than this are refused with 413 before they are read (lib/middleware.py);
# REQUEST_BODY_LIMITS: (path pattern, bytes), the first match wins. The case report pages take
# up to 9 attachments of CASE_UPLOAD_MAX_BYTES each.
REQUEST_BODY_MAX_BYTES = envint("REQUEST_BODY_MAX_MB", 10) * 1024 * 1024
REQUEST_BODY_IMPORT_MAX_BYTES = envint("REQUEST_BODY_IMPORT_MAX_MB", 40) * 1024 * 1024
REQUEST_BODY_LIMITS = [
    (r"^/(ledger|territory)/import/$", REQUEST_BODY_IMPORT_MAX_BYTES),
    (r"^/cases/(report|new)/$", 9 * CASE_UPLOAD_MAX_BYTES + 1024 * 1024),
]
