#!/usr/bin/env bash
# The long fuzz run: every target of shared/tests/fuzz.rs (proptest, stable toolchain) with many
# more cases than the test command's bounded run, one target after another, printing each
# target's executions and the answers by status:
#
#   infra/scripts/fuzz.sh [CASES_PER_TARGET] [SEED]     (defaults: 5000, 18)
#
# The oracle is the test's: no 5xx, no panic, every answer within the deadline. A failure prints
# proptest's shrunk input; make it a regression test in shared/tests/fuzz.rs. Loopback only (the
# metadata-document target serves its documents from 127.0.0.1). No DynamoDB needed: the routers
# run in process on the embedded store.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

CASES="${1:-5000}"
SEED="${2:-18}"
[[ $CASES =~ ^[0-9]+$ ]] || die "CASES_PER_TARGET must be a number; got $CASES"
[[ $SEED =~ ^[0-9]+$ ]] || die "SEED must be a number; got $SEED"

section "fuzz: $CASES cases per target, seed $SEED (cargo test -p mcp-oauth --test fuzz)"
mkdir -p "$LOG_DIR"
log="$LOG_DIR/fuzz.log"
t0=$SECONDS
rc=0
FUZZ_CASES="$CASES" FUZZ_SEED="$SEED" cargo test -p mcp-oauth --test fuzz -- --nocapture --test-threads 1 >"$log" 2>&1 || rc=$?
section "results (full log: ${log#"$ROOT"/})"
grep -a -E '^fuzz target|^  answers by status|^test result' "$log" | sed 's/^/    /'
if ((rc != 0)); then
    grep -a -E -A25 'panicked|minimal failing input' "$log" | head -80 >&2
    die "a fuzz target failed (exit $rc)"
fi
total="$(awk '/^fuzz target/ { for (i = 1; i < NF; i++) if ($(i + 1) == "executions,") n += $(i) } END { print n + 0 }' "$log")"
info "$total executions over all targets in $((SECONDS - t0)) s: 0 panics, 0 hangs, 0 5xx"
