"""An OAuth 1.0a provider (RFC 5849) for Authdesk's tests, built on oauthlib's server
endpoints (RequestTokenEndpoint, AuthorizationEndpoint, AccessTokenEndpoint,
ResourceEndpoint) with an in-memory RequestValidator.

    PORT=0 python server.py     -> prints `listening http://127.0.0.1:<port>` once ready

Consumers (key: secret, signature method):
    consumer-hmac     consumer-hmac-secret     HMAC-SHA1
    consumer-hmac256  consumer-hmac256-secret  HMAC-SHA256
    consumer-plain    consumer-plain-secret    PLAINTEXT (this server is loopback http)
    consumer-rsa      (RSA key: crates/authdesk-core/tests/fixtures/test-only-rsa-2048.pem)  RSA-SHA1
    consumer-unconfirmed  consumer-unconfirmed-secret  HMAC-SHA1, but its temporary credentials
                      answer leaves out oauth_callback_confirmed (a fault a client must refuse)

Endpoints: POST /oauth/request_token, GET /oauth/authorize?oauth_token=... (a page with
Allow and Deny; Deny redirects with oauth_problem=user_refused, as Trello does), POST
/oauth/access_token, GET|POST /1/members/me (a protected resource: {"id": <user>} or
401). A (timestamp, nonce) pair is accepted once: a replay is refused.
Test-only: GET /__test/stats -> {"resources": n, "refused": n, "replays": n}.
Environment: PORT, EXIT_WITH_STDIN=1 (exit when stdin closes).
"""

import html
import json
import os
import secrets
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import serialization
from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    RequestTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
)

HERE = os.path.dirname(os.path.abspath(__file__))
RSA_FIXTURE = os.path.join(HERE, "..", "..", "crates", "authdesk-core", "tests", "fixtures", "test-only-rsa-2048.pem")


def rsa_public_pem():
    with open(RSA_FIXTURE, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


CONSUMERS = {
    "consumer-hmac": ("consumer-hmac-secret", "HMAC-SHA1"),
    "consumer-hmac256": ("consumer-hmac256-secret", "HMAC-SHA256"),
    "consumer-plain": ("consumer-plain-secret", "PLAINTEXT"),
    "consumer-rsa": (None, "RSA-SHA1"),
    # A fault mode of this real server: its temporary credentials answer leaves out
    # oauth_callback_confirmed (an OAuth 1.0 provider, not 1.0a), which a client must refuse.
    "consumer-unconfirmed": ("consumer-unconfirmed-secret", "HMAC-SHA1"),
}

LOCK = threading.Lock()
REQUEST_TOKENS = {}  # token -> {"secret", "client", "callback", "verifier", "user"}
ACCESS_TOKENS = {}  # token -> {"secret", "client", "user"}
NONCES = set()
STATS = {"resources": 0, "refused": 0, "replays": 0}


class Validator(RequestValidator):
    enforce_ssl = False  # loopback http in tests

    @property
    def allowed_signature_methods(self):
        return ("HMAC-SHA1", "HMAC-SHA256", "RSA-SHA1", "PLAINTEXT")

    # Lengths and character sets are the client's business here: accept what Authdesk sends.
    def check_client_key(self, key):
        return bool(key)

    def check_request_token(self, token):
        return bool(token)

    def check_access_token(self, token):
        return bool(token)

    def check_nonce(self, nonce):
        return bool(nonce) and len(nonce) <= 64

    def check_verifier(self, verifier):
        return bool(verifier)

    @property
    def dummy_client(self):
        return "dummy-client"

    @property
    def dummy_request_token(self):
        return "dummy-request-token"

    @property
    def dummy_access_token(self):
        return "dummy-access-token"

    def validate_client_key(self, client_key, request):
        return client_key in CONSUMERS

    def get_client_secret(self, client_key, request):
        secret = CONSUMERS.get(client_key, ("dummy-secret", None))[0]
        return secret or "no-secret"

    def get_rsa_key(self, client_key, request):
        return rsa_public_pem()

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request, request_token=None, access_token=None):
        key = (client_key, timestamp, nonce, request_token or access_token)
        with LOCK:
            if key in NONCES:
                STATS["replays"] += 1
                return False
            NONCES.add(key)
        return True

    def validate_requested_realms(self, client_key, realms, request):
        return True

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True

    def get_default_realms(self, client_key, request):
        return []

    def get_realms(self, token, request):
        return []

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        return True

    def save_request_token(self, token, request):
        with LOCK:
            REQUEST_TOKENS[token["oauth_token"]] = {
                "secret": token["oauth_token_secret"],
                "client": request.client_key,
                "callback": request.redirect_uri,
            }

    def get_redirect_uri(self, token, request):
        return REQUEST_TOKENS[token]["callback"]

    def verify_request_token(self, token, request):
        return token in REQUEST_TOKENS

    def verify_realms(self, token, realms, request):
        return True

    def save_verifier(self, token, verifier, request):
        with LOCK:
            REQUEST_TOKENS[token]["verifier"] = verifier["oauth_verifier"]
            REQUEST_TOKENS[token]["user"] = verifier.get("user", "someone")

    def validate_request_token(self, client_key, token, request):
        entry = REQUEST_TOKENS.get(token)
        return entry is not None and entry["client"] == client_key

    def get_request_token_secret(self, client_key, token, request):
        entry = REQUEST_TOKENS.get(token)
        return entry["secret"] if entry else "dummy-secret"

    def validate_verifier(self, client_key, token, verifier, request):
        entry = REQUEST_TOKENS.get(token)
        if entry is None or entry.get("verifier") != verifier:
            return False
        request.user = entry.get("user")
        return True

    def invalidate_request_token(self, client_key, request_token, request):
        with LOCK:
            REQUEST_TOKENS.pop(request_token, None)

    def save_access_token(self, token, request):
        with LOCK:
            ACCESS_TOKENS[token["oauth_token"]] = {
                "secret": token["oauth_token_secret"],
                "client": request.client_key,
                "user": getattr(request, "user", None) or "someone",
            }

    def validate_access_token(self, client_key, token, request):
        entry = ACCESS_TOKENS.get(token)
        return entry is not None and entry["client"] == client_key

    def get_access_token_secret(self, client_key, token, request):
        entry = ACCESS_TOKENS.get(token)
        return entry["secret"] if entry else "dummy-secret"


VALIDATOR = Validator()
REQUEST = RequestTokenEndpoint(VALIDATOR)
AUTHORIZE = AuthorizationEndpoint(VALIDATOR)
ACCESS = AccessTokenEndpoint(VALIDATOR)
RESOURCE = ResourceEndpoint(VALIDATOR)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):  # quiet: stdout carries only the `listening` line
        sys.stderr.write("oauth1: " + (fmt % args) + "\n")

    def uri(self):
        return f"http://{self.headers.get('Host')}{self.path}"

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode() if length else ""

    def reply(self, status, headers, body):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        data = body.encode() if isinstance(body, str) else (body or b"")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def json(self, status, value):
        self.reply(status, {"Content-Type": "application/json"}, json.dumps(value))

    def handle_any(self, method):
        path = urllib.parse.urlsplit(self.path).path
        body = self.body() if method == "POST" else ""
        headers = dict(self.headers)
        if path == "/__test/stats":
            return self.json(200, STATS)
        if path == "/oauth/request_token":
            h, b, s = REQUEST.create_request_token_response(self.uri(), method, body, headers)
            if s == 200 and "consumer-unconfirmed" in (self.headers.get("Authorization") or ""):
                b = "&".join(p for p in b.split("&") if not p.startswith("oauth_callback_confirmed="))
            return self.reply(s, h, b)
        if path == "/oauth/access_token":
            h, b, s = ACCESS.create_access_token_response(self.uri(), method, body, headers)
            return self.reply(s, h, b)
        if path == "/oauth/authorize" and method == "GET":
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            token = query.get("oauth_token", "")
            if token not in REQUEST_TOKENS:
                return self.reply(400, {"Content-Type": "text/plain"}, "unknown oauth_token")
            t = html.escape(token)
            page = (
                "<!doctype html><title>Authorize</title><form method=post action=/oauth/authorize>"
                f"<input type=hidden name=oauth_token value='{t}'>"
                "<input name=user value=trello-user>"
                "<button name=decision value=allow>Allow</button>"
                "<button name=decision value=deny>Deny</button></form>"
            )
            return self.reply(200, {"Content-Type": "text/html"}, page)
        if path == "/oauth/authorize" and method == "POST":
            form = dict(urllib.parse.parse_qsl(body))
            token = form.get("oauth_token", "")
            entry = REQUEST_TOKENS.get(token)
            if entry is None:
                return self.reply(400, {"Content-Type": "text/plain"}, "unknown oauth_token")
            if form.get("decision") != "allow":
                sep = "&" if "?" in entry["callback"] else "?"
                location = f"{entry['callback']}{sep}oauth_problem=user_refused"
                return self.reply(302, {"Location": location}, "")
            h, b, s = AUTHORIZE.create_authorization_response(
                f"{self.uri()}?oauth_token={urllib.parse.quote(token)}",
                "GET", None, headers, realms=[], credentials={"user": form.get("user", "someone")},
            )
            return self.reply(s, h, b)
        if path == "/1/members/me":
            valid, request = RESOURCE.validate_protected_resource_request(self.uri(), method, body or None, headers, realms=[])
            if not valid:
                STATS["refused"] += 1
                return self.json(401, {"error": "invalid signature or token"})
            STATS["resources"] += 1
            user = ACCESS_TOKENS[request.resource_owner_key]["user"]
            return self.json(200, {"id": user, "method": method, "signature_method": request.signature_method})
        return self.reply(404, {"Content-Type": "text/plain"}, "not found")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "0"))), Handler)
    if os.environ.get("EXIT_WITH_STDIN") == "1":
        def watch():
            sys.stdin.read()
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    print(f"listening http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
