#!/usr/bin/env bash
# Regenerates docs/catalog.md from connectors/*.toml (the built-in catalog as a table: name,
# category, auth, where sign-in runs, the credential check). The catalog test in
# `cargo test -p authdesk-core --test catalog` fails when the committed page is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
AUTHDESK_UPDATE_CATALOG=1 cargo test --locked -p authdesk-core --test catalog the_catalog_page_is_generated_from_the_files
echo "docs/catalog.md regenerated"
