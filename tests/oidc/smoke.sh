#!/bin/bash
# By-hand smoke test of server.mjs with curl. Start the server first (npm ci && node server.mjs)
# and pass its issuer: ISSUER=http://127.0.0.1:<port> ./smoke.sh
# Exercises: discovery, devInteractions login + consent, code + PKCE, userinfo, refresh with
# rotation (and reuse detection), client_credentials, revocation, introspection, native loopback
# ports, /__test/stats.
set -euo pipefail
B=${ISSUER:?set ISSUER=http://127.0.0.1:<port>}
J=$(mktemp); trap 'rm -f $J' EXIT
enc() { python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=""))' "$1"; }
js() { python3 -c 'import json,sys;d=json.load(sys.stdin);print(d.get(sys.argv[1],""))' "$1"; }
loc() { curl -s -o /dev/null -w '%{redirect_url}' -c $J -b $J "$@"; }

# One PKCE pair for every sign-in (each code is bound to it; fine for a smoke test).
VER=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
CH=$(printf %s "$VER" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=')
# sign_in CLIENT_ID REDIRECT_URI -> prints the final redirect (to the client) with a fresh cookie jar
sign_in() {
  : > $J
  local L
  L=$(loc "$B/auth?client_id=$1&response_type=code&redirect_uri=$(enc "$2")&scope=$(enc 'openid offline_access email api:read')&prompt=consent&state=xyz&code_challenge=$CH&code_challenge_method=S256")
  L=$(loc -X POST --data "prompt=login&login=alice&password=whatever" "$L")
  L=$(loc "$L")
  L=$(loc -X POST --data "prompt=consent" "$L")
  loc "$L"
}
code_of() { python3 -c 'import sys,urllib.parse as u;print(u.parse_qs(u.urlparse(sys.argv[1]).query)["code"][0])' "$1"; }

curl -s -X POST $B/__test/reset >/dev/null
echo "== discovery"
curl -s $B/.well-known/openid-configuration | python3 -c 'import json,sys;d=json.load(sys.stdin);[print(" ",k,"=",d.get(k)) for k in ["issuer","authorization_response_iss_parameter_supported","code_challenge_methods_supported","revocation_endpoint","introspection_endpoint","userinfo_endpoint","grant_types_supported"]]'

echo "== authdesk-web: login + consent"
R=https://app.example.com/callback
F=$(sign_in authdesk-web $R); echo "  final redirect: $F"
T=$(curl -s -u authdesk-web:authdesk-web-secret -d grant_type=authorization_code -d code=$(code_of "$F") --data-urlencode redirect_uri=$R -d code_verifier=$VER $B/token)
echo "  token: $T"
AT=$(printf %s "$T" | js access_token); RT=$(printf %s "$T" | js refresh_token)
echo "== userinfo"; curl -s -H "Authorization: Bearer $AT" $B/me; echo
echo "== refresh (rotating)"
T2=$(curl -s -u authdesk-web:authdesk-web-secret -d grant_type=refresh_token -d refresh_token=$RT $B/token); echo "  $T2"
RT2=$(printf %s "$T2" | js refresh_token); [ "$RT2" != "$RT" ] && echo "  rotated: yes"
echo "== reuse of the rotated refresh token"
curl -s -u authdesk-web:authdesk-web-secret -d grant_type=refresh_token -d refresh_token=$RT $B/token; echo
echo "== the new one after reuse detection (grant revoked)"
curl -s -u authdesk-web:authdesk-web-secret -d grant_type=refresh_token -d refresh_token=$RT2 $B/token; echo

echo "== authdesk-native on loopback port 45678"
R=http://127.0.0.1:45678/callback
F=$(sign_in authdesk-native $R); echo "  final redirect: $F"
T=$(curl -s -u authdesk-native:authdesk-native-secret -d grant_type=authorization_code -d code=$(code_of "$F") --data-urlencode redirect_uri=$R -d code_verifier=$VER $B/token)
echo "  token: $T"; RT=$(printf %s "$T" | js refresh_token)
echo "== revoke its refresh token, then try to use it"
curl -s -o /dev/null -w '  revocation HTTP %{http_code}\n' -u authdesk-native:authdesk-native-secret -d token=$RT -d token_type_hint=refresh_token $B/token/revocation
curl -s -u authdesk-native:authdesk-native-secret -d grant_type=refresh_token -d refresh_token=$RT $B/token; echo

echo "== authdesk-post (client_secret_post)"
R=https://app.example.com/callback
F=$(sign_in authdesk-post $R)
curl -s -d client_id=authdesk-post -d client_secret=authdesk-post-secret -d grant_type=authorization_code -d code=$(code_of "$F") --data-urlencode redirect_uri=$R -d code_verifier=$VER $B/token; echo
echo "== authdesk-public (none)"
F=$(sign_in authdesk-public $R)
curl -s -d client_id=authdesk-public -d grant_type=authorization_code -d code=$(code_of "$F") --data-urlencode redirect_uri=$R -d code_verifier=$VER $B/token; echo

echo "== client_credentials + introspection"
T=$(curl -s -u authdesk-web:authdesk-web-secret -d grant_type=client_credentials -d scope=api:read $B/token); echo "  $T"
curl -s -u authdesk-web:authdesk-web-secret -d token=$(printf %s "$T" | js access_token) $B/token/introspection; echo

echo "== stats"; curl -s $B/__test/stats; echo
