#!/usr/bin/env bash
# Every benchmark, each with its baseline measured in the same run, then one table:
# measure, figure, baseline, ratio, goal, met. Figures on this shared 2-core machine are
# noisy; ratios within one run hold.
#
#   scripts/bench.sh            # everything (release builds; the desktop under Xvfb; ~30 min)
#   scripts/bench.sh --smoke    # a few seconds of each, only to prove they run (CI does this)
#
# The benches: authdesk-api `api` (method calls through the API and a bare proxy, sign-in
# tokens), authdesk-core `engine` (the engine vs a direct reqwest call, the vault, a refresh
# storm), authdesk-cli `oneshot` (a command that opens the vault vs one that reads
# metadata), `team` (PostgreSQL replicas vs SQLite), `scale` (large data directories), and
# scripts/bench-desktop.sh (the window vs a bare Tauri window, and with --scale on 1,000,000
# account connectors vs an empty directory; not with --smoke).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
smoke=
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
export AUTHDESK_BENCH_SMOKE=${smoke:+1}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
run() {
  echo "== $*" >&2
  # Each bench's own report goes to stderr as it runs; its TABLE rows are kept.
  "$@" | tee -a "$out" | grep -v '^TABLE' >&2
}
if [ -n "$smoke" ]; then
  # Debug builds (the test run's), short runs: only that they still run and print.
  profile=(--profile dev)
else
  profile=()
fi
run cargo bench --locked "${profile[@]}" -p authdesk-api --bench api
run cargo bench --locked "${profile[@]}" -p authdesk-core --bench engine
run cargo bench --locked "${profile[@]}" -p authdesk-cli --bench oneshot
if [ -z "$smoke" ]; then
  run cargo bench --locked -p authdesk-cli --bench team
  run cargo bench --locked -p authdesk-cli --bench scale
  run scripts/bench-desktop.sh 7
  run scripts/bench-desktop.sh --scale 7
fi
echo
printf 'MEASURE\tFIGURE\tBASELINE\tRATIO\tGOAL\tMET\n' > "$out.table"
grep '^TABLE' "$out" | cut -f2- >> "$out.table" || true
column -t -s $'\t' "$out.table"
rows=$(($(wc -l < "$out.table") - 1))
rm -f "$out.table"
if [ "$rows" -eq 0 ]; then
  echo "bench.sh: no benchmark printed a row" >&2
  exit 1
fi
