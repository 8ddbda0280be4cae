#!/usr/bin/env bash
# Installs what Authdesk needs on a Debian/Ubuntu machine, skipping what is already there.
# Usage: scripts/setup-debian.sh [app|test]   (test adds the headless-desktop and keychain tools)
set -euo pipefail
want=(build-essential pkg-config libssl-dev libdbus-1-dev
      libwebkit2gtk-4.1-dev librsvg2-dev
      dbus gnome-keyring libsecret-tools libglib2.0-bin)
if [ "${1:-app}" = test ]; then
  want+=(xvfb xauth dbus-x11 x11-utils chromium webkit2gtk-driver)
  # The store's conformance suite also runs on PostgreSQL (a throwaway cluster,
  # scripts/pg-cluster.sh).
  want+=(postgresql)
  # The test authorization server (oidc-provider) runs on Node.js; use the machine's own
  # Node if it has one (oidc-provider 9 wants Node >= 20).
  command -v node >/dev/null || want+=(nodejs npm)
  # The second test authorization server (django-oauth-toolkit) runs in a virtualenv.
  python3 -c 'import venv, ensurepip' 2>/dev/null || want+=(python3 python3-venv)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust from https://rustup.rs" >&2; exit 1; }
if [ "${1:-app}" = test ]; then
  root=$(cd "$(dirname "$0")/.." && pwd)
  # The pinned test authorization server, from its lock file.
  (cd "$root/tests/oidc" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  # A webhook receiver that verifies signatures with the Standard Webhooks library.
  (cd "$root/tests/webhooks" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  (cd "$root/tests/mcp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  # playwright-core drives Debian's chromium (never a downloaded browser); webdriverio
  # drives the desktop app through tauri-driver and WebKitWebDriver.
  (cd "$root/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  # django-oauth-toolkit, pinned, in tests/dot/.venv (remade when requirements.txt changes).
  dot="$root/tests/dot"
  if ! cmp -s "$dot/requirements.txt" "$dot/.venv/requirements.txt" 2>/dev/null; then
    rm -rf "$dot/.venv"
    python3 -m venv "$dot/.venv"
    "$dot/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$dot/requirements.txt"
    cp "$dot/requirements.txt" "$dot/.venv/requirements.txt"
  fi
  command -v tauri-driver >/dev/null || cargo install tauri-driver --version 2.1.0 --locked --quiet
fi
