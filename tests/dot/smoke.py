"""Smoke test of server.py over plain HTTP (requests), the way a test driver would use it.

    .venv/bin/python smoke.py        # starts its own servers; exit 0 = all checks passed

Server 1 (PORT=0 ACCESS_TTL=5, rotating refresh tokens): login + consent + code + PKCE for
authdesk-dot, code exchange with client_secret_basic, code replay, introspection, refresh
(rotation and replay of the old token), revocation, consent denied, authdesk-dot-native on a
loopback port nobody registered, an unregistered redirect_uri, client_credentials (+ a wrong
secret, + concurrent requests), access token expiry, /__test/stats and /__test/reset.
Server 2 (ROTATE_REFRESH=0 AUTHZ_ISS=1): refresh returns the same refresh token; `iss` in the
authorization response.
"""

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
USER, PASSWORD = "alice", "alice-password"
WEB = ("authdesk-dot", "authdesk-dot-secret")
NATIVE = ("authdesk-dot-native", "authdesk-dot-native-secret")
CC = ("authdesk-dot-cc", "authdesk-dot-cc-secret")
WEB_REDIRECT = "https://app.example.com/callback"
TIMEOUT = 30
LOGS = []  # servers' stderr files, removed at the end (printed first on a failure)


class Failure(Exception):
    pass


def check(cond, msg, *details):
    if not cond:
        raise Failure(msg + ("".join("\n    " + str(d) for d in details) if details else ""))


def say(*args):
    print(*args, flush=True)


# ---- server process ------------------------------------------------------------------------
class Server:
    def __init__(self, **env):
        self.log = tempfile.NamedTemporaryFile(prefix="dot-server-", suffix=".log", delete=False)
        LOGS.append(self.log.name)
        full_env = dict(os.environ, PORT="0", EXIT_WITH_STDIN="1", **env)
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=full_env,
            text=True,
        )
        line = [None]
        reader = threading.Thread(target=lambda: line.__setitem__(0, self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(60)
        first = line[0] or ""
        if not first.startswith("listening http://127.0.0.1:"):
            self.stop()
            raise Failure(f"server did not print its listening line (got {first!r}); stderr:\n{self.stderr()}")
        self.base = first.split(" ", 1)[1].strip()
        say(f"   server {env} -> {self.base} (ready in {time.monotonic() - started:.1f}s)")
        # Exactly one stdout line: anything more would confuse a harness reading it.
        self.extra_stdout = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for extra in self.proc.stdout:
            self.extra_stdout.append(extra)

    def url(self, path):
        return self.base + path

    def stderr(self):
        with open(self.log.name) as f:
            return f.read()

    def stop(self):
        """Close stdin (EXIT_WITH_STDIN=1) and check that the server exits by itself."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failure("server did not exit when its stdin closed")
        return self.proc.returncode


# ---- helpers -------------------------------------------------------------------------------
def pkce_pair():
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class FormParser(HTMLParser):
    """Collects <form> elements: id, method, action and their <input> name/value/type."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"id": a.get("id"), "method": a.get("method"), "action": a.get("action"), "inputs": []})
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"].append(a)


def parse_form(html, form_id):
    p = FormParser()
    p.feed(html)
    for f in p.forms:
        if f["id"] == form_id:
            return f
    raise Failure(f"no form#{form_id} in page:\n{html[:2000]}")


def hidden_fields(form):
    return {i["name"]: i.get("value", "") for i in form["inputs"] if i.get("type") == "hidden" and i.get("name")}


def sign_in(srv, client_id, redirect_uri, scope="read write", allow=True, state="xyz"):
    """Browser part of the code flow. Returns (verifier, redirect Location, parsed query)."""
    verifier, challenge = pkce_pair()
    s = requests.Session()  # its own cookie jar, like a fresh browser
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    authorize = srv.url("/o/authorize/?" + urlencode(params))

    # 1. GET /o/authorize/ without a session -> 302 to the login page (relative Location).
    r = s.get(authorize, allow_redirects=False, timeout=TIMEOUT)
    check(r.status_code == 302, f"authorize (no session): expected 302, got {r.status_code}", r.text[:500])
    login_url = urljoin(authorize, r.headers["Location"])
    check(urlsplit(login_url).path == "/accounts/login/", "authorize did not redirect to /accounts/login/", login_url)

    # 2. GET the login form: sets the csrftoken cookie; the form carries csrfmiddlewaretoken and next.
    r = s.get(login_url, allow_redirects=False, timeout=TIMEOUT)
    check(r.status_code == 200, f"login form: expected 200, got {r.status_code}")
    check("csrftoken" in s.cookies, "login form set no csrftoken cookie")
    form = parse_form(r.text, "loginForm")
    fields = hidden_fields(form)
    check(fields.get("csrfmiddlewaretoken") and fields.get("next"), "login form lacks csrfmiddlewaretoken/next", fields)

    # 3. POST the login form -> 302 to `next` (the authorize URL again); sets the sessionid cookie.
    r = s.post(
        urljoin(login_url, form["action"]),
        data={**fields, "username": USER, "password": PASSWORD},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    check(r.status_code == 302, f"login POST: expected 302, got {r.status_code}", r.text[:1000])
    check("sessionid" in s.cookies, "login set no sessionid cookie")
    consent_url = urljoin(login_url, r.headers["Location"])
    check(urlsplit(consent_url).path == "/o/authorize/", "login did not redirect back to /o/authorize/", consent_url)

    # 4. GET /o/authorize/ with the session -> 200 consent form (skip_authorization=False).
    r = s.get(consent_url, allow_redirects=False, timeout=TIMEOUT)
    check(r.status_code == 200, f"consent form: expected 200, got {r.status_code}", r.text[:500])
    form = parse_form(r.text, "authorizationForm")
    fields = hidden_fields(form)
    for name in ("csrfmiddlewaretoken", "client_id", "redirect_uri", "response_type", "scope", "state",
                 "code_challenge", "code_challenge_method"):
        check(name in fields, f"consent form lacks hidden field {name}", fields)
    check(fields["code_challenge"] == challenge and fields["scope"] == scope, "consent form fields differ", fields)

    # 5. POST the consent form (to the same URL: the form has no action) with allow=Authorize
    #    -> 302 to redirect_uri?code=...&state=... ; without `allow` -> error=access_denied.
    data = dict(fields)
    if allow:
        data["allow"] = "Authorize"
    r = s.post(consent_url, data=data, allow_redirects=False, timeout=TIMEOUT)
    check(r.status_code == 302, f"consent POST: expected 302, got {r.status_code}", r.text[:1000])
    location = r.headers["Location"]
    check(location.startswith(redirect_uri + "?"), "consent did not redirect to redirect_uri", location)
    return verifier, location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def token(srv, client, **form):
    return requests.post(srv.url("/o/token/"), auth=client, data=form, timeout=TIMEOUT)


def introspect(srv, client, tok):
    r = requests.post(srv.url("/o/introspect/"), auth=client, data={"token": tok}, timeout=TIMEOUT)
    check(r.status_code == 200, f"introspect: expected 200, got {r.status_code}", r.text)
    return r.json()


def expect_error(r, status, error, what):
    check(r.status_code == status, f"{what}: expected HTTP {status}, got {r.status_code}", r.text)
    check(r.json().get("error") == error, f"{what}: expected error {error}", r.text)
    say(f"   {what}: HTTP {r.status_code} {r.text}")


def stats(srv):
    return requests.get(srv.url("/__test/stats"), timeout=TIMEOUT).json()


# ---- the walk-through ----------------------------------------------------------------------
def main_server():
    srv = Server(ACCESS_TTL="5")
    try:
        r = requests.post(srv.url("/__test/reset"), timeout=TIMEOUT)
        check(r.status_code == 200, "reset failed", r.text)

        say("== metadata")
        meta = requests.get(srv.url("/.well-known/oauth-authorization-server"), timeout=TIMEOUT).json()
        check(meta["issuer"] == srv.base, "metadata issuer", meta)
        check(meta["token_endpoint"] == srv.url("/o/token/"), "metadata token_endpoint", meta)
        check("authorization_response_iss_parameter_supported" not in meta, "iss advertised by default", meta)
        say(f"   issuer {meta['issuer']}, code_challenge_methods {meta['code_challenge_methods_supported']}")

        say("== authdesk-dot: login + consent (code flow, PKCE S256)")
        verifier, location, q = sign_in(srv, WEB[0], WEB_REDIRECT)
        say(f"   redirect: {location}")
        check(q.get("state") == "xyz" and q.get("code"), "redirect lacks code/state", location)
        check("iss" not in q, "unexpected iss in the authorization response", location)

        say("== code exchange (client_secret_basic)")
        form = dict(grant_type="authorization_code", code=q["code"], redirect_uri=WEB_REDIRECT, code_verifier=verifier)
        r = token(srv, WEB, **form)
        check(r.status_code == 200, f"code exchange: HTTP {r.status_code}", r.text)
        t1 = r.json()
        say(f"   {r.text}")
        check(t1.get("token_type") == "Bearer" and t1.get("expires_in") == 5, "token_type/expires_in", t1)
        check(t1.get("scope") == "read write" and t1.get("refresh_token"), "scope/refresh_token", t1)
        check(r.headers.get("Cache-Control") == "no-store", "token response lacks Cache-Control: no-store", r.headers)
        expect_error(token(srv, WEB, **form), 400, "invalid_grant", "code replay")

        info = introspect(srv, WEB, t1["access_token"])
        say(f"   introspection: {json.dumps(info)}")
        check(info.get("active") is True and info.get("username") == USER and info.get("client_id") == WEB[0],
              "introspection of a fresh token", info)

        say("== refresh (rotating)")
        r = token(srv, WEB, grant_type="refresh_token", refresh_token=t1["refresh_token"])
        check(r.status_code == 200, f"refresh: HTTP {r.status_code}", r.text)
        t2 = r.json()
        say(f"   {r.text}")
        check(t2.get("refresh_token") and t2["refresh_token"] != t1["refresh_token"], "refresh token did not rotate", t2)
        check(t2["access_token"] != t1["access_token"] and t2.get("expires_in") == 5, "new access token", t2)
        check(introspect(srv, WEB, t1["access_token"]).get("active") is False, "old access token still active")
        expect_error(token(srv, WEB, grant_type="refresh_token", refresh_token=t1["refresh_token"]),
                     400, "invalid_grant", "replay of the rotated refresh token")

        say("== revoke the new refresh token, then use it")
        r = requests.post(srv.url("/o/revoke_token/"), auth=WEB,
                          data={"token": t2["refresh_token"], "token_type_hint": "refresh_token"}, timeout=TIMEOUT)
        check(r.status_code == 200, f"revocation: HTTP {r.status_code}", r.text)
        say(f"   revocation: HTTP {r.status_code} body={r.text!r}")
        expect_error(token(srv, WEB, grant_type="refresh_token", refresh_token=t2["refresh_token"]),
                     400, "invalid_grant", "refresh with the revoked token")
        active = introspect(srv, WEB, t2["access_token"]).get("active")
        say(f"   its access token after revoking the refresh token: active={active}")
        check(active is False, "access token survived revocation of its refresh token")

        say("== consent denied")
        _, location, q = sign_in(srv, WEB[0], WEB_REDIRECT, allow=False)
        say(f"   redirect: {location}")
        check(q.get("error") == "access_denied" and q.get("state") == "xyz", "denied consent", location)

        say("== authdesk-dot-native on an unregistered loopback port")
        native_redirect = "http://127.0.0.1:45678/callback"
        verifier, location, q = sign_in(srv, NATIVE[0], native_redirect, scope="read")
        say(f"   redirect: {location}")
        r = token(srv, NATIVE, grant_type="authorization_code", code=q["code"], redirect_uri=native_redirect,
                  code_verifier=verifier)
        check(r.status_code == 200 and r.json().get("scope") == "read", f"native exchange: HTTP {r.status_code}", r.text)
        say(f"   {r.text}")

        say("== unregistered redirect_uri path")
        _, challenge = pkce_pair()
        r = requests.get(srv.url("/o/authorize/?" + urlencode({
            "client_id": NATIVE[0], "response_type": "code", "redirect_uri": "http://127.0.0.1:45678/other",
            "code_challenge": challenge, "code_challenge_method": "S256", "state": "xyz"})),
            allow_redirects=False, timeout=TIMEOUT)
        # Anonymous: DOT sends every request to the login page first and validates it only
        # once signed in (check_no_pkce below does the signed-in case: HTTP 400, no redirect).
        say(f"   anonymous: HTTP {r.status_code} to {r.headers.get('Location', '')[:40]}...")
        check(r.status_code == 302 and r.headers["Location"].startswith("/accounts/login/"),
              "anonymous authorize with a bad redirect_uri", r.status_code)

        say("== signed in: authorize without PKCE; unregistered redirect_uri")
        check_no_pkce(srv)

        say("== client_credentials")
        r = token(srv, CC, grant_type="client_credentials")
        check(r.status_code == 200, f"client_credentials: HTTP {r.status_code}", r.text)
        cc = r.json()
        say(f"   {r.text}")
        check("refresh_token" not in cc and cc.get("scope") == "read" and cc.get("expires_in") == 5, "cc token", cc)
        expect_error(token(srv, (CC[0], "wrong"), grant_type="client_credentials"), 401, "invalid_client",
                     "wrong client secret")
        expect_error(token(srv, WEB, grant_type="client_credentials"), 400, "unauthorized_client",
                     "client_credentials for a code-flow client")
        r = requests.post(srv.url("/o/token/"), timeout=TIMEOUT,
                          data={"grant_type": "client_credentials", "client_id": CC[0], "client_secret": CC[1]})
        check(r.status_code == 200, f"client_secret_post: HTTP {r.status_code}", r.text)
        say("   client_secret_post also accepted")

        say("== 8 concurrent client_credentials requests")
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: token(srv, CC, grant_type="client_credentials", scope="read write").status_code,
                                  range(8)))
        check(codes == [200] * 8, "concurrent requests", codes)
        say(f"   {codes}")

        say("== access token expiry (ACCESS_TTL=5)")
        check(introspect(srv, CC, cc["access_token"]).get("active") is True, "cc token not active")
        time.sleep(5.5)
        check(introspect(srv, CC, cc["access_token"]).get("active") is False, "cc token still active after 5 s")
        say("   active -> inactive after 5 s")

        say("== stats")
        st = stats(srv)
        say(f"   {json.dumps(st)}")
        want = {
            "grants": {"authorization_code": 2, "refresh_token": 1, "client_credentials": 10},
            "errors": {"invalid_grant": 3, "invalid_client": 1, "unauthorized_client": 1},
            "revocations": 1,
        }
        check(st == want, "stats differ from the expected counts", f"want {want}", f"got  {st}")
        requests.post(srv.url("/__test/reset"), timeout=TIMEOUT)
        st = stats(srv)
        check(st == {"grants": {"authorization_code": 0, "refresh_token": 0, "client_credentials": 0},
                     "errors": {}, "revocations": 0}, "reset", st)
        say("   reset -> zeroed")
    except BaseException:
        say("---- server stderr ----\n" + srv.stderr())
        srv.stop()
        raise
    check(srv.stop() == 0, "server exit code after stdin closed")
    check(not srv.extra_stdout, "server printed more than one stdout line", srv.extra_stdout)
    say("   server exited 0 after stdin closed")


def check_no_pkce(srv):
    """A signed-in authorize request without code_challenge: redirected with invalid_request."""
    s = requests.Session()
    # Sign in through the login form directly (next defaults to /accounts/profile/, unused).
    r = s.get(srv.url("/accounts/login/"), timeout=TIMEOUT)
    fields = hidden_fields(parse_form(r.text, "loginForm"))
    fields["next"] = "/o/authorize/"
    r = s.post(srv.url("/accounts/login/"), data={**fields, "username": USER, "password": PASSWORD},
               allow_redirects=False, timeout=TIMEOUT)
    check(r.status_code == 302, f"login POST: HTTP {r.status_code}")
    r = s.get(srv.url("/o/authorize/?" + urlencode({
        "client_id": WEB[0], "response_type": "code", "redirect_uri": WEB_REDIRECT, "state": "xyz"})),
        allow_redirects=False, timeout=TIMEOUT)
    say(f"   HTTP {r.status_code} Location: {r.headers.get('Location')}")
    check(r.status_code == 302 and "error=invalid_request" in r.headers.get("Location", ""), "no PKCE accepted")
    # And a signed-in request with a redirect_uri that is not registered: an error page, no redirect.
    _, challenge = pkce_pair()
    r = s.get(srv.url("/o/authorize/?" + urlencode({
        "client_id": NATIVE[0], "response_type": "code", "redirect_uri": "http://127.0.0.1:45678/other",
        "code_challenge": challenge, "code_challenge_method": "S256", "state": "xyz"})),
        allow_redirects=False, timeout=TIMEOUT)
    say(f"   unregistered redirect_uri (signed in): HTTP {r.status_code}, "
        f"page says {'Error: invalid_request' if 'Error: invalid_request' in r.text else r.text[:200]!r}")
    check(r.status_code == 400 and "Location" not in r.headers, "bad redirect_uri was not refused")


def second_server():
    srv = Server(ACCESS_TTL="60", ROTATE_REFRESH="0", AUTHZ_ISS="1")
    try:
        say("== ROTATE_REFRESH=0 AUTHZ_ISS=1")
        meta = requests.get(srv.url("/.well-known/oauth-authorization-server"), timeout=TIMEOUT).json()
        check(meta.get("authorization_response_iss_parameter_supported") is True, "iss not advertised", meta)
        verifier, location, q = sign_in(srv, WEB[0], WEB_REDIRECT)
        say(f"   redirect: {location}")
        check(q.get("iss") == srv.base, "iss missing or wrong", location)
        r = token(srv, WEB, grant_type="authorization_code", code=q["code"], redirect_uri=WEB_REDIRECT,
                  code_verifier=verifier)
        check(r.status_code == 200, f"code exchange: HTTP {r.status_code}", r.text)
        t1 = r.json()
        check(t1.get("expires_in") == 60, "expires_in with ACCESS_TTL=60", t1)
        rt = t1["refresh_token"]
        for i in (1, 2):
            r = token(srv, WEB, grant_type="refresh_token", refresh_token=rt)
            check(r.status_code == 200, f"refresh {i}: HTTP {r.status_code}", r.text)
            check(r.json().get("refresh_token") == rt, f"refresh {i} changed the refresh token", r.text)
        say(f"   two refreshes answered the same refresh_token: {r.text}")
        st = stats(srv)
        check(st["grants"] == {"authorization_code": 1, "refresh_token": 2, "client_credentials": 0}, "stats", st)
    except BaseException:
        say("---- server stderr ----\n" + srv.stderr())
        srv.stop()
        raise
    check(srv.stop() == 0, "server exit code after stdin closed")


def main():
    started = time.monotonic()
    try:
        main_server()
        second_server()
    except Failure as e:
        say(f"SMOKE FAILED: {e}")
        return 1
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        say(f"SMOKE FAILED: {type(e).__name__}: {e}")
        return 1
    finally:
        for name in LOGS:
            try:
                os.remove(name)
            except OSError:
                pass
    say(f"SMOKE OK ({time.monotonic() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
