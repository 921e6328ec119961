# auth-service tasks. Install just with `cargo install just --locked`.

pg := "postgres://postgres@127.0.0.1:5432/postgres"
redis := "redis://127.0.0.1:6379"

# Run the service (embedded mode: SQLite + in-process state + mail files)
run:
    cargo run -p auth-server

# Run the service on PostgreSQL + Redis
run-pg:
    AUTH__DATABASE__URL={{pg}} AUTH__REDIS__URL={{redis}} cargo run -p auth-server

# Every test on the embedded default
test:
    cargo test --workspace

# Every test on SQLite, then on PostgreSQL + Redis
test-backends: test
    AUTH_TEST_DATABASE_URL={{pg}} AUTH_TEST_REDIS_URL={{redis}} cargo test --workspace

# Regenerate openapi/openapi.json
openapi:
    cargo run -q -p auth-server -- --dump-openapi

# fmt, clippy and the layering check
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    .ci/layering.sh

# Benchmarks: the real service over HTTP beside this machine's own ceilings
# (release build). Options: --quick, --postgres, --users N, --only a,b, --keep
bench *args:
    cargo run --release -p auth-bench -- {{args}}

# Single costs in-process: one hash, one JWT signature and verification, one
# rate-limit check
bench-costs:
    cargo run --release -p auth-server --example bench

# Migrations: just migrate up|down|status|fresh
migrate cmd="up":
    cargo run -p auth-migration -- {{cmd}}

# Everything CI runs
ci:
    bash .ci/run
