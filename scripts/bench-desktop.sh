#!/usr/bin/env bash
# Desktop benchmark: Authdesk vs a bare Tauri window (crates/bare-window), both release
# builds, measured alternately in the same run under Xvfb and a private D-Bus session.
# Prints launch-to-interactive times, PSS (app + WebKit processes) and the ratios.
# Usage: scripts/bench-desktop.sh [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-debian.sh test
cargo build --release --locked -p authdesk-app -p bare-window \
  --features authdesk-app/custom-protocol,bare-window/custom-protocol
export HOME_FOR_BENCH=$(mktemp -d)
HOME=$HOME_FOR_BENCH xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" dbus-run-session -- \
  python3 scripts/bench_desktop.py target/release/authdesk-app target/release/bare-window "${1:-5}" \
  2> >(grep -v -e Gtk-WARNING -e portal -e ^dbus-daemon -e SpiRegistry >&2)
rm -rf "$HOME_FOR_BENCH"
