#!/usr/bin/env bash
# Desktop benchmark: Authdesk vs a bare Tauri window (crates/bare-window), both release
# builds, measured alternately in the same run under Xvfb and a private D-Bus session.
# Prints launch-to-interactive times, PSS (app + WebKit processes) and the ratios.
# With --scale, first builds a data directory of 1,000 accounts x 100 account connectors
# (benches/scale.rs in authdesk-cli) and measures Authdesk on it next to an empty one.
# Usage: scripts/bench-desktop.sh [--scale] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scale=
if [ "${1:-}" = "--scale" ]; then scale=1; shift; fi
scripts/setup-debian.sh test
seeded=
if [ -n "$scale" ]; then
  seeded=$(mktemp -d)
  trap 'rm -rf "$seeded"' EXIT
  cargo bench --locked -p authdesk-cli --bench scale -- --seed "$seeded" 1000 100
fi
cargo build --release --locked -p authdesk-app -p bare-window \
  --features authdesk-app/custom-protocol,bare-window/custom-protocol
export HOME_FOR_BENCH=$(mktemp -d)
HOME=$HOME_FOR_BENCH xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" dbus-run-session -- \
  python3 scripts/bench_desktop.py target/release/authdesk-app target/release/bare-window "${1:-5}" $seeded \
  2> >(grep -v -e Gtk-WARNING -e portal -e ^dbus-daemon -e SpiRegistry >&2)
rm -rf "$HOME_FOR_BENCH"
