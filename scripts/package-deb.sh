#!/usr/bin/env bash
# Builds a .deb of Authdesk: the desktop app (authdesk-app) plus the `authdesk` CLI.
#
# `cargo tauri build` looks for tauri.conf.json beside the app crate, but ours lives at the
# repository root (build.rs and generate_context! read it from there). This wrapper writes
# src-tauri/tauri.conf.json for the duration of the build, with the paths made relative to
# src-tauri/, and removes it afterwards. AppImage needs downloads this machine cannot make.
#
# Usage: scripts/package-deb.sh      -> target/release/bundle/deb/Authdesk_<version>_<arch>.deb
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-debian.sh app
command -v cargo-tauri >/dev/null || cargo install tauri-cli --version "=2.12.4" --locked
cargo build --release --locked -p authdesk-cli

staged=src-tauri/tauri.conf.json
[ -e "$staged" ] && { echo "package-deb: $staged exists; remove it first" >&2; exit 1; }
trap 'rm -f "$staged"' EXIT
python3 - "$staged" <<'PY'
import json, sys
conf = json.load(open("tauri.conf.json"))
conf["build"]["frontendDist"] = "../ui"
conf["bundle"]["icon"] = ["../icons/icon.png"]
conf["bundle"]["targets"] = ["deb"]
linux = conf["bundle"].setdefault("linux", {})
linux.setdefault("deb", {})["files"] = {"/usr/bin/authdesk": "../target/release/authdesk"}
linux["deb"]["depends"] = ["gnome-keyring | kwalletmanager | keepassxc"]
conf["bundle"]["shortDescription"] = "Set up and keep alive connector authentication"
json.dump(conf, open(sys.argv[1], "w"), indent=2)
PY
(cd src-tauri && cargo tauri build --bundles deb)
ls -l target/release/bundle/deb/*.deb
