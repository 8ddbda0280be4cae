#!/usr/bin/env bash
# Runs every test, on a fresh Debian/Ubuntu machine too: installs what is missing, then
# inside a private D-Bus session with an unlocked gnome-keyring (the real keychain) runs
# the workspace tests, builds the desktop app and checks that its window opens under Xvfb.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-debian.sh test
# The window's ES modules, checked statically before anything is built (undefined or unused
# names, imports that name no export, import circles): a mistake fails here in seconds.
node --experimental-vm-modules --no-warnings tests/e2e/ui-check.mjs
# The Rust modules' layering (scripts/import-graph.py; ARCHITECTURE.md "Layers"): no import
# circle in any crate, and in the core no module names its own layer or a higher one.
python3 scripts/import-graph.py crates/authdesk-core/src --layers "error | secret paths logging jwt keychain \
  | store vault definition signing diagnostics mcp | desk authvalue domain oauth1 jwt_verify | token_store | service \
  | settings credentials | api_clients setup_links | engine | inspect handover agents"
for src in crates/authdesk-api/src crates/authdesk-cli/src src-tauri/src; do python3 scripts/import-graph.py "$src"; done
# No source file over 600 lines of logic (tests and benches aside): split by idea.
python3 scripts/logic-lines.py --top 3 --max 600

# A throwaway HOME: gnome-keyring creates its login keyring there, WebKit its cookies.
export HOME_FOR_TESTS=$(mktemp -d /tmp/authdesk-test-home.XXXXXX)
PG_DIR=$(mktemp -d /tmp/authdesk-test-pg.XXXXXX)
cleanup() {
  scripts/pg-cluster.sh stop "$PG_DIR"
  rm -rf "$PG_DIR"
  # The desktop app's D-Bus session may start xdg-document-portal, which mounts a FUSE file
  # system under the throwaway HOME; unmount it before removing the directory.
  awk -v d="$HOME_FOR_TESTS" 'index($2, d) == 1 {print $2}' /proc/mounts | while read -r m; do
    fusermount -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$HOME_FOR_TESTS" 2>/dev/null || echo "note: could not remove $HOME_FOR_TESTS" >&2
}
trap cleanup EXIT
export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
# Incremental compilation only pays for repeated builds; on a clean clone it doubles what
# target/ takes on disk (a CI machine once ran out of space linking a test binary).
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
disk() { echo "== disk: target/ $(du -sh target 2>/dev/null | cut -f1 || echo 0), free $(df -h --output=avail . | tail -1 | tr -d ' ')"; }
disk

start=$(date +%s)
cargo build --workspace --all-targets --locked
echo "== build: $(( $(date +%s) - start ))s"
disk
# A throwaway PostgreSQL cluster: the core's suite runs a second time against it.
export PG_URL_FOR_TESTS=$(scripts/pg-cluster.sh start "$PG_DIR")

HOME=$HOME_FOR_TESTS dbus-run-session -- bash -euo pipefail -c '
  # Unlock (and create) the login keyring for this session only.
  echo -n authdesk-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  t0=$(date +%s)
  # Tests that need PostgreSQL itself (the team server replicas) use the cluster.
  AUTHDESK_TEST_PG_CLUSTER=$PG_URL_FOR_TESTS cargo test --workspace --locked 2>&1 | tee "$HOME/cargo-test.log"
  echo "== cargo test: $(( $(date +%s) - t0 ))s"
  # The same core suite on PostgreSQL (each desk gets a fresh database on the cluster).
  t0=$(date +%s)
  AUTHDESK_TEST_POSTGRES=$PG_URL_FOR_TESTS cargo test -p authdesk-core --locked 2>&1 | tee -a "$HOME/cargo-test.log"
  echo "== cargo test on PostgreSQL: $(( $(date +%s) - t0 ))s"
  tests/app-smoke.sh
  # The benchmarks still run and print their table rows (a few seconds each, debug builds;
  # the figures themselves come from scripts/bench.sh without --smoke).
  t0=$(date +%s)
  scripts/bench.sh --smoke
  echo "== bench smoke: $(( $(date +%s) - t0 ))s"
  # The browser flow in a real browser (Debian chromium + playwright-core).
  node tests/e2e/browser-flow.mjs 2>&1 | tee "$HOME/e2e.log"
  # The desktop app end to end: WebKitGTK under Xvfb, driven through tauri-driver.
  xvfb-run -a -s "-screen 0 1920x1080x24 -nolisten tcp" node tests/e2e/desktop.mjs 2>&1 \
    | grep --line-buffered -v -e Gtk-WARNING -e xdg-desktop-portal -e ^dbus-daemon | tee -a "$HOME/e2e.log"
  # One closing line for the whole run: cargo test prints a line per test binary (the last
  # one is the doc-tests, often 0), so sum them with the browser checks and the smoke test.
  awk "/^test result:/ { p += \$4; f += \$6 } /^[0-9]+ passed, [0-9]+ failed\$/ { p += \$1; f += \$3 } END { printf \"tests: %d passed, %d failed\\n\", p + 1, f }" "$HOME/cargo-test.log" "$HOME/e2e.log" > "$HOME/summary"
'
disk
echo "== all tests passed in $(( $(date +%s) - start ))s"
cat "$HOME_FOR_TESTS/summary"
