#!/usr/bin/env bash
# The desktop shell starts under Xvfb, opens its main window ("Authdesk"), loads ui/ and the
# page calls into the core (the shell logs each command it serves). Run inside a D-Bus
# session (scripts/test.sh does). Exits non-zero, printing the app's log, on failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
app=${APP:-$root/target/debug/authdesk-app}
work=$(mktemp -d /tmp/authdesk-smoke.XXXXXX)
log=$work/app.log
export HOME=$work/home AUTHDESK_DATA_DIR=$work/data AUTHDESK_LOG=info AUTHDESK_LISTEN=127.0.0.1:0
mkdir -p "$HOME"
"$root/target/debug/authdesk" accounts create --name "Smoke Test Account" >/dev/null

xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" bash -c '
  "$0" >"$1" 2>&1 & pid=$!
  for i in $(seq 120); do
    if xwininfo -root -tree 2>/dev/null | grep -q "\"Authdesk\"" && grep -q "served overview accounts=1" "$1"; then
      echo "smoke: window \"Authdesk\" is up and the UI called the core after ~$((i / 4))s"
      kill $pid; wait $pid 2>/dev/null || true; exit 0
    fi
    kill -0 $pid 2>/dev/null || { echo "smoke: the app exited early" >&2; cat "$1" >&2; exit 1; }
    sleep 0.25
  done
  echo "smoke: no Authdesk window with a loaded UI after 30s" >&2; cat "$1" >&2
  xwininfo -root -tree >&2 || true
  kill $pid; exit 1' "$app" "$log"
awk -v d="$work" 'index($2, d) == 1 {print $2}' /proc/mounts | while read -r m; do
  fusermount -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
done
rm -rf "$work" 2>/dev/null || echo "note: could not remove $work" >&2
