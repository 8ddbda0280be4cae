#!/usr/bin/env bash
# Desktop benchmark: Authdesk vs a bare Tauri window (crates/bare-window), both release
# builds, measured alternately in the same run under Xvfb and a private D-Bus session.
# Prints launch-to-interactive times, PSS (app + WebKit processes) and the ratios.
# With --scale, first builds a data directory of 10,000 accounts x 100 account connectors (1,000,000)
# (benches/scale.rs in authdesk-cli) and measures Authdesk on it next to an empty one: time
# until the window settles (its processes quiet) and memory.
# With --against REV, also builds Authdesk at git revision REV (in a throwaway worktree, with
# the same target directory) and measures it alternately with this one: the ratio says whether
# a change grew the launch time or the memory, without trusting figures from another run.
# Usage: scripts/bench-desktop.sh [--scale | --against REV] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scale=
against=
if [ "${1:-}" = "--scale" ]; then scale=1; shift; fi
if [ "${1:-}" = "--against" ]; then against=${2:?--against needs a git revision}; shift 2; fi
scripts/setup-debian.sh test
build() {
  cargo build --release --locked -p authdesk-app -p bare-window \
    --features authdesk-app/custom-protocol,bare-window/custom-protocol "$@"
}
older=
if [ -n "$against" ]; then
  tree=$(mktemp -d)
  older=$(mktemp -d)/authdesk-app-$against
  trap 'git worktree remove --force "$tree" 2>/dev/null; rm -rf "$tree" "$(dirname "$older")"' EXIT
  git worktree add --detach "$tree" "$against"
  (cd "$tree" && CARGO_TARGET_DIR="$root/target" build)
  cp target/release/authdesk-app "$older"
fi
seeded=
if [ -n "$scale" ]; then
  seeded=$(mktemp -d)
  trap 'rm -rf "$seeded"' EXIT
  cargo bench --locked -p authdesk-cli --bench scale -- --seed "$seeded" 10000 100
fi
build
export HOME_FOR_BENCH=$(mktemp -d)
HOME=$HOME_FOR_BENCH xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" dbus-run-session -- \
  python3 scripts/bench_desktop.py target/release/authdesk-app target/release/bare-window "${1:-5}" $seeded ${older:+--against "$older"} \
  2> >(grep -v -e Gtk-WARNING -e portal -e ^dbus-daemon -e SpiRegistry >&2)
rm -rf "$HOME_FOR_BENCH"
