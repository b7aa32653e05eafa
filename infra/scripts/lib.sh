# shellcheck shell=bash
# Shared helpers for the scripts in infra/scripts/. Source it; do not run it.
#
# What it gives:
#   ROOT, TOOLS_DIR, VENV, LOG_DIR   paths (ROOT is the repository root, found from this file)
#   CHECKOV_VENV                     checkov's own venv (its boto3 pin conflicts with the SAM CLI's)
#   section / info / warn / die      uniform output
#   at_exit CMD                      run CMD when the script exits (LIFO), whatever the reason
#   free_port                        a free TCP port on 127.0.0.1
#   moto_start / moto_stop           the DynamoDB emulator (moto) on loopback, for the tests
#   moto_running                     true while the last moto started here is still alive
#   with_test_aws CMD...             run CMD with dummy AWS credentials pointed at moto
#
# Not for: installing anything (that is tools.sh) or deciding what to test (that is test.sh).

# Guard against double sourcing: exit hooks and moto state must exist once.
if [[ -n ${_MCP_LIB_SOURCED:-} ]]; then return 0; fi
_MCP_LIB_SOURCED=1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$ROOT/.tools}"
VENV="$TOOLS_DIR/venv"
LOG_DIR="$TOOLS_DIR/logs"
CHECKOV_VENV="${CHECKOV_VENV:-$TOOLS_DIR/checkov}"

section() { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# --- exit hooks ---------------------------------------------------------------
# One EXIT trap for the whole script; each helper that starts something registers its own
# clean-up here, so no caller can forget it. INT and TERM become exits so the hooks run then too.
_EXIT_HOOKS=()
EXIT_RC=0
_run_exit_hooks() {
    EXIT_RC=$?
    local i
    for ((i = ${#_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
        eval "${_EXIT_HOOKS[i]}" || true
    done
    exit "$EXIT_RC"
}
at_exit() {
    _EXIT_HOOKS+=("$*")
    trap _run_exit_hooks EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# --- ports ----------------------------------------------------------------------
# Ask the kernel for a free loopback port. Another process could take it before we bind it;
# moto_start retries with a new port when that happens.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# --- moto (DynamoDB emulator) ----------------------------------------------------
MOTO_PID=""
MOTO_LAST_PID=""
MOTO_LOG="$LOG_DIR/moto.log"

# The command that serves moto on 127.0.0.1:PORT (PORT is appended). Prefer
# infra/scripts/dynamodb_emulator.py when it exists: it serves moto one request at a time, which
# restores the per-request atomicity of conditional writes that DynamoDB guarantees and the
# threaded moto_server lacks. Otherwise plain moto_server.
_moto_cmd() {
    local wrapper="$ROOT/infra/scripts/dynamodb_emulator.py"
    if [[ -f $wrapper ]]; then
        MOTO_CMD=("$VENV/bin/python" "$wrapper")
        MOTO_LABEL="dynamodb_emulator.py, one request at a time"
    else
        MOTO_CMD=("$VENV/bin/moto_server" -H 127.0.0.1 -p)
        MOTO_LABEL="moto_server"
    fi
}

# Start moto from the venv on a free loopback port, wait until it answers, export
# DYNAMODB_TEST_ENDPOINT, and register moto_stop as an exit hook.
moto_start() {
    [[ -x $VENV/bin/moto_server ]] || die "moto not found in ${VENV#"$ROOT"/}: run infra/scripts/tools.sh first"
    local MOTO_CMD=() MOTO_LABEL=""
    _moto_cmd
    command -v curl >/dev/null || die "curl is needed to wait for moto"
    [[ -z $MOTO_PID ]] || die "moto is already running (pid $MOTO_PID)"
    mkdir -p "$LOG_DIR"
    : >"$MOTO_LOG"
    at_exit moto_stop

    local attempt try port pid
    for attempt in 1 2 3; do
        port="$(free_port)"
        # Own log file, not the terminal: moto logs every request.
        "${MOTO_CMD[@]}" "$port" >>"$MOTO_LOG" 2>&1 &
        pid=$!
        MOTO_PID=$pid
        MOTO_LAST_PID=$pid
        # Poll for readiness, bounded: 100 x 0.1 s. /moto-api/data.json is moto's own endpoint,
        # so an answer there proves that moto, not some other process, holds the port.
        for ((try = 1; try <= 100; try++)); do
            if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/moto-api/data.json" 2>/dev/null; then
                export DYNAMODB_TEST_ENDPOINT="http://127.0.0.1:$port"
                info "moto ($MOTO_LABEL) pid $pid ready at $DYNAMODB_TEST_ENDPOINT after $try polls (log: ${MOTO_LOG#"$ROOT"/})"
                return 0
            fi
            if ! kill -0 "$pid" 2>/dev/null; then
                break # it died (port taken between free_port and bind?): try another port
            fi
            sleep 0.1
        done
        moto_stop
        warn "moto did not become ready on port $port (attempt $attempt)"
    done
    printf -- '--- last lines of %s ---\n' "$MOTO_LOG" >&2
    tail -n 30 "$MOTO_LOG" >&2 || true
    die "could not start moto"
}

# Stop moto if it runs: TERM, then KILL if it has not gone within 5 s. Safe to call twice.
moto_stop() {
    [[ -n $MOTO_PID ]] || return 0
    local pid=$MOTO_PID i
    MOTO_PID=""
    unset DYNAMODB_TEST_ENDPOINT
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        warn "moto (pid $pid) ignored TERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

moto_running() { [[ -n $MOTO_LAST_PID ]] && kill -0 "$MOTO_LAST_PID" 2>/dev/null; }

# Run a command against moto with dummy AWS settings, for that command only. The Rust SDK needs
# credentials and a region even for an emulator. Shared config files and ambient profiles or
# endpoint overrides are cut off so a developer's own AWS set-up cannot leak into the tests.
with_test_aws() {
    [[ -n ${DYNAMODB_TEST_ENDPOINT:-} ]] || die "with_test_aws: moto is not running"
    env \
        -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_SESSION_TOKEN \
        -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_DYNAMODB \
        AWS_ACCESS_KEY_ID=test \
        AWS_SECRET_ACCESS_KEY=test \
        AWS_REGION=us-east-1 \
        AWS_DEFAULT_REGION=us-east-1 \
        AWS_EC2_METADATA_DISABLED=true \
        AWS_CONFIG_FILE=/dev/null \
        AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        DYNAMODB_TEST_ENDPOINT="$DYNAMODB_TEST_ENDPOINT" \
        "$@"
}
