"""A second, independent real OAuth 2.0 authorization server for Authdesk's tests:
django-oauth-toolkit (DOT) in a single-file Django project configured in code.

    PORT=0 .venv/bin/python server.py   -> prints `listening http://127.0.0.1:<port>` once ready

Environment: PORT (default 0 = any free port; binds 127.0.0.1 only), ACCESS_TTL (access
token lifetime in seconds, default 60), ROTATE_REFRESH ('1' = rotate refresh tokens on use,
the default; '0' = the same refresh token stays valid), EXIT_WITH_STDIN ('1' = exit when
stdin closes, so a killed test run leaves no server behind). Optional: AUTHZ_ISS ('1' = add
RFC 9207 `iss` to authorization responses; default '0', DOT's default), REUSE_PROTECTION
('1' = replaying a rotated refresh token revokes its whole family; default '0', DOT's default).

stdout carries exactly one line (`listening ...`, read by a test harness); everything else
(Django's request log, DOT's warnings, errors) goes to stderr.

Endpoints: /o/authorize/, /o/token/, /o/revoke_token/, /o/introspect/, login form at
/accounts/login/, RFC 8414 metadata at /.well-known/oauth-authorization-server, and a
protected resource GET /api/me (the bearer token's user, client and scope; 401 without one).
Extra test endpoints (outside DOT):
  GET  /__test/stats  -> {"grants":{"authorization_code":1,...},"errors":{"invalid_grant":1},"revocations":1}
  POST /__test/reset  -> zeroes those counts
"""

import glob
import json
import os
import shutil
import signal
import sys
import tempfile
import threading

# ---- environment ---------------------------------------------------------------------------
PORT = int(os.environ.get("PORT") or 0)
ACCESS_TTL = int(os.environ.get("ACCESS_TTL") or 60)
ROTATE_REFRESH = (os.environ.get("ROTATE_REFRESH") or "1") == "1"
EXIT_WITH_STDIN = os.environ.get("EXIT_WITH_STDIN") == "1"
AUTHZ_ISS = os.environ.get("AUTHZ_ISS") == "1"
REUSE_PROTECTION = os.environ.get("REUSE_PROTECTION") == "1"

HERE = os.path.dirname(os.path.abspath(__file__))
TMP_PREFIX = "authdesk-dot-"

USERNAME, PASSWORD = "alice", "alice-password"
# (client_id, secret, DOT grant type, space-separated redirect_uris); all confidential,
# skip_authorization=False (the consent form is always shown).
CLIENTS = [
    (
        "authdesk-dot",
        "authdesk-dot-secret",
        "authorization-code",
        "https://app.example.com/callback http://127.0.0.1:8788/connector/callback",
    ),
    # http://127.0.0.1 redirect URIs match with any port (RFC 8252 section 7.3; DOT does this
    # for http + 127.0.0.1/::1 registered URIs, whatever port is registered).
    ("authdesk-dot-native", "authdesk-dot-native-secret", "authorization-code", "http://127.0.0.1/callback"),
    ("authdesk-dot-cc", "authdesk-dot-cc-secret", "client-credentials", ""),
]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---- temp dir with the SQLite database -----------------------------------------------------
def sweep_stale_tmpdirs():
    """Remove temp dirs left behind by servers that were killed (SIGKILL) earlier."""
    for d in glob.glob(os.path.join(tempfile.gettempdir(), TMP_PREFIX + "*")):
        try:
            with open(os.path.join(d, "pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:
            pass


sweep_stale_tmpdirs()
TMPDIR = tempfile.mkdtemp(prefix=TMP_PREFIX)
with open(os.path.join(TMPDIR, "pid"), "w") as f:
    f.write(str(os.getpid()))


def shutdown(code=0):
    shutil.rmtree(TMPDIR, ignore_errors=True)
    sys.stderr.flush()
    os._exit(code)


signal.signal(signal.SIGTERM, lambda *_: shutdown(0))
signal.signal(signal.SIGINT, lambda *_: shutdown(0))

if EXIT_WITH_STDIN:

    def wait_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except Exception:
            pass
        shutdown(0)

    threading.Thread(target=wait_stdin, name="stdin-watch", daemon=True).start()

# ---- bind first: the issuer (and so the settings) need the port ----------------------------
# Django's threaded dev-server classes (no autoreload): one thread per connection, HTTP/1.1.
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler  # noqa: E402


class Server(ThreadedWSGIServer):
    request_queue_size = 128


httpd = Server(("127.0.0.1", PORT), WSGIRequestHandler, allow_reuse_address=True)
port = httpd.server_address[1]
ISSUER = f"http://127.0.0.1:{port}"

# ---- Django settings -----------------------------------------------------------------------
LOGIN_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body>
<h1>Sign in</h1>
{% if form.errors %}<p class="errornote">Your username and password didn't match. Please try again.</p>{% endif %}
<form method="post" action="{% url 'login' %}" id="loginForm">
{% csrf_token %}
<p><label for="id_username">Username:</label> <input type="text" name="username" id="id_username" autofocus required></p>
<p><label for="id_password">Password:</label> <input type="password" name="password" id="id_password" required></p>
<input type="hidden" name="next" value="{{ next }}">
<p><input type="submit" value="Sign in"></p>
</form>
</body></html>
"""

# DOT's own oauth2_provider/authorize.html (the consent form) is used as shipped; only its
# base template is replaced so no static files are involved.
BASE_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{% block title %}Authorize{% endblock title %}</title></head>
<body><div class="container">{% block content %}{% endblock content %}</div></body></html>
"""

from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    SECRET_KEY="authdesk-dot-test-secret-key-not-for-production-0123456789",
    ALLOWED_HOSTS=["127.0.0.1", "localhost", "[::1]"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "oauth2_provider",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        __name__ + ".stats_middleware",
    ],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(TMPDIR, "db.sqlite3"),
            "OPTIONS": {
                # Concurrent requests: wait for the write lock instead of failing, and take
                # it at BEGIN so two transactions never deadlock upgrading a read lock.
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF",
            },
        }
    },
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    # Client secrets and alice's password are stored hashed, as DOT does by default, but with
    # Django's fast test hasher instead of 1,000,000 PBKDF2 rounds (~0.3 s per token request here).
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": False,
            "OPTIONS": {
                "loaders": [
                    (
                        "django.template.loaders.locmem.Loader",
                        {
                            "registration/login.html": LOGIN_TEMPLATE,
                            "oauth2_provider/base.html": BASE_TEMPLATE,
                        },
                    ),
                    "django.template.loaders.app_directories.Loader",
                ],
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                ],
            },
        }
    ],
    LOGIN_URL="/accounts/login/",
    USE_TZ=True,
    TIME_ZONE="UTC",
    USE_I18N=False,
    LOGGING={
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": sys.stderr}},
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            # One line per request (4xx as WARNING, 5xx as ERROR, the rest INFO).
            "django.server": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    },
    OAUTH2_PROVIDER={
        "SCOPES": {"read": "Reading scope", "write": "Writing scope"},
        "DEFAULT_SCOPES": ["read"],
        "ACCESS_TOKEN_EXPIRE_SECONDS": ACCESS_TTL,
        "ROTATE_REFRESH_TOKEN": ROTATE_REFRESH,
        "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
        "REFRESH_TOKEN_REUSE_PROTECTION": REUSE_PROTECTION,
        "PKCE_REQUIRED": True,
        "OIDC_ENABLED": False,
        # The issuer in /.well-known/oauth-authorization-server (and `iss` when AUTHZ_ISS=1).
        "OIDC_ISS_ENDPOINT": ISSUER,
        "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": AUTHZ_ISS,
    },
)

import django  # noqa: E402

django.setup()

from django.contrib.auth import views as auth_views  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from django.views.decorators.http import require_GET, require_POST  # noqa: E402
from oauth2_provider import urls as dot_urls  # noqa: E402
from oauth2_provider import views as dot_views  # noqa: E402
from oauth2_provider.oauth2_backends import get_oauthlib_core  # noqa: E402

# ---- counters ------------------------------------------------------------------------------
_stats_lock = threading.Lock()


def _empty_stats():
    return {
        "grants": {"authorization_code": 0, "refresh_token": 0, "client_credentials": 0},
        "errors": {},
        "revocations": 0,
    }


_stats = _empty_stats()


def stats_middleware(get_response):
    """Count token endpoint outcomes (successes by grant_type, failures by error code) and
    revocation requests answered 200."""

    def middleware(request):
        response = get_response(request)
        if request.method != "POST":
            return response
        if request.path == "/o/token/":
            if response.status_code == 200:
                grant_type = request.POST.get("grant_type") or "unknown"
                with _stats_lock:
                    _stats["grants"][grant_type] = _stats["grants"].get(grant_type, 0) + 1
            else:
                try:
                    error = json.loads(response.content).get("error")
                except Exception:
                    error = None
                error = error or f"http_{response.status_code}"
                with _stats_lock:
                    _stats["errors"][error] = _stats["errors"].get(error, 0) + 1
        elif request.path == "/o/revoke_token/" and response.status_code == 200:
            with _stats_lock:
                _stats["revocations"] += 1
        return response

    return middleware


@require_GET
def stats_view(request):
    with _stats_lock:
        return JsonResponse(json.loads(json.dumps(_stats)))


@csrf_exempt
@require_POST
def reset_view(request):
    global _stats
    with _stats_lock:
        _stats = _empty_stats()
        return JsonResponse(json.loads(json.dumps(_stats)))


@require_GET
def me_view(request):
    """A protected resource: who the bearer token belongs to. RFC 6750: 401 with
    `WWW-Authenticate: Bearer error="invalid_token"` without a valid token."""
    valid, r = get_oauthlib_core().verify_request(request, scopes=[])
    if not valid:
        response = JsonResponse({"error": "invalid_token"}, status=401)
        response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    return JsonResponse(
        {
            "username": r.user.username if r.user else None,
            "client_id": r.client.client_id,
            "scope": " ".join(r.scopes or []),
        }
    )


# ---- URLs ----------------------------------------------------------------------------------
urlpatterns = [
    # authorize/, token/, revoke_token/, introspect/ (+ DOT's device-flow endpoints, unused).
    path("o/", include((dot_urls.base_urlpatterns, "oauth2_provider"), namespace="oauth2_provider")),
    path(".well-known/oauth-authorization-server", dot_views.OAuthServerMetadataView.as_view()),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/me", me_view),
    path("__test/stats", stats_view),
    path("__test/reset", reset_view),
]


# ---- database, user and clients ------------------------------------------------------------
def setup_data():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from oauth2_provider.models import get_application_model

    call_command("migrate", interactive=False, verbosity=0, stdout=sys.stderr)

    User = get_user_model()
    User.objects.create_user(USERNAME, email="alice@example.com", password=PASSWORD)
    Application = get_application_model()
    for client_id, secret, grant, redirect_uris in CLIENTS:
        # The plaintext secret is hashed on save (hash_client_secret=True, DOT's default).
        app = Application(
            name=client_id,
            client_id=client_id,
            client_secret=secret,
            hash_client_secret=True,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=grant,
            redirect_uris=redirect_uris,
            skip_authorization=False,
            algorithm=Application.NO_ALGORITHM,
        )
        app.full_clean()
        app.save()


def main():
    from django.core.wsgi import get_wsgi_application

    try:
        setup_data()
        httpd.set_app(get_wsgi_application())
    except Exception:
        import traceback

        traceback.print_exc()
        shutdown(1)
    print(f"listening {ISSUER}", flush=True)
    try:
        httpd.serve_forever()
    finally:
        shutdown(0)


if __name__ == "__main__":
    main()
