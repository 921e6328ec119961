#!/usr/bin/env bash
# Fails when a crate depends on what its layer must not see (ARCHITECTURE.md):
# domain and application do no I/O; http never sees the adapters.
set -euo pipefail
cd "$(dirname "$0")/.."

io_crates='sea-orm|sea-query|sqlx|sqlx-core|actix-web|actix-http|actix-rt|fred|redis|mail-send|mail-builder|josekit|openssl|reqwest|hyper|tokio|auth-infrastructure|auth-http|auth-server'
http_forbidden='auth-infrastructure|auth-server|sea-orm|sqlx|sqlx-core|fred|mail-send|josekit|openssl|pbkdf2'

status=0
check() {
  local package=$1 forbidden=$2
  local found
  found=$(cargo tree -p "$package" -e normal --prefix none --format '{p}' \
    | awk '{print $1}' | sort -u | grep -Ex "$forbidden" || true)
  if [ -n "$found" ]; then
    echo "layering: $package must not depend on: $(echo "$found" | tr '\n' ' ')"
    status=1
  else
    echo "layering: $package ok"
  fi
}

check auth-domain "$io_crates"
check auth-application "$io_crates"
check auth-http "$http_forbidden"
exit $status
