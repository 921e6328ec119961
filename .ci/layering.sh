#!/usr/bin/env bash
# Fails when a crate depends on what its layer must not see (ARCHITECTURE.md):
# domain and application do no I/O; http never sees the adapters. Checked for
# normal dependencies and for dev-dependencies too: a test that reaches an
# adapter is a layer leak as well. The one exception: tokio as the executor
# of domain and application unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."

adapters='sea-orm|sea-query|sqlx|sqlx-core|actix-web|actix-http|actix-rt|fred|redis|mail-send|mail-builder|josekit|openssl|reqwest|hyper|auth-infrastructure|auth-http|auth-server'
io_crates="$adapters|tokio"
http_forbidden='auth-infrastructure|auth-server|sea-orm|sqlx|sqlx-core|fred|mail-send|josekit|openssl|pbkdf2'

status=0
check() {
  local package=$1 edges=$2 forbidden=$3
  local found
  found=$(cargo tree -p "$package" -e "$edges" --prefix none --format '{p}' \
    | awk '{print $1}' | sort -u | grep -Ex "$forbidden" || true)
  if [ -n "$found" ]; then
    echo "layering: $package ($edges) must not depend on: $(echo "$found" | tr '\n' ' ')"
    status=1
  else
    echo "layering: $package ($edges) ok"
  fi
}

check auth-domain normal "$io_crates"
check auth-domain normal,dev "$adapters"
check auth-application normal "$io_crates"
check auth-application normal,dev "$adapters"
check auth-http normal,dev "$http_forbidden"
exit $status
