#!/usr/bin/env bash
# Builds and runs the Authdesk desktop app (installs missing system packages first).
# Extra arguments go to the app, e.g. --data-dir DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-debian.sh app
cargo build --release -p authdesk-app -p authdesk-cli --features authdesk-app/custom-protocol --locked
exec target/release/authdesk-app "$@"
