#!/usr/bin/env bash
# Run every check this project has, the same way locally and in CI:
#
#   infra/scripts/test.sh
#
# Steps, stopping at the first failure:
#   1. tools     install or check the pinned test tools (infra/scripts/tools.sh)
#   2. fmt       cargo fmt --all -- --check
#   3. clippy    cargo clippy --workspace --all-targets -- -D warnings
#   4. test      cargo test --workspace, with moto (DynamoDB emulator) on loopback
#   5. sam       sam validate --lint on template.yaml (offline, no AWS credentials)
#   6. cfn-lint  cfn-lint template.yaml
# moto is stopped on any exit, and a summary of the steps is printed last.
#
# Extra arguments go to `cargo test` after `--workspace`, e.g. `infra/scripts/test.sh -- --nocapture`.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

STEP_NAMES=(tools fmt clippy test sam cfn-lint)
declare -A STEP_RESULT=()
CURRENT_STEP=""
STEP_T0=0
RUN_T0=$SECONDS
TEST_LOG="$LOG_DIR/cargo-test.log"
TEST_COUNTS=""

step() {
    finish_step
    CURRENT_STEP=$1
    STEP_T0=$SECONDS
    section "[$1] $2"
}
finish_step() {
    if [[ -n $CURRENT_STEP ]]; then
        STEP_RESULT[$CURRENT_STEP]="ok    $((SECONDS - STEP_T0)) s"
        CURRENT_STEP=""
    fi
}

summary() {
    local rc=$EXIT_RC name
    if ((rc == 0)); then
        finish_step
    elif [[ -n $CURRENT_STEP ]]; then
        STEP_RESULT[$CURRENT_STEP]="FAILED after $((SECONDS - STEP_T0)) s (exit $rc)"
    fi
    section "summary"
    for name in "${STEP_NAMES[@]}"; do
        printf '    %-9s %s\n' "$name" "${STEP_RESULT[$name]:-not run}"
    done
    if moto_running; then warn "moto (pid $MOTO_LAST_PID) is still running"; fi
    if ((rc == 0)); then
        printf '\nAll checks passed in %d s.\n' "$((SECONDS - RUN_T0))"
    else
        printf '\nFAILED at step "%s" (exit %d) after %d s.\n' "${CURRENT_STEP:-?}" "$rc" "$((SECONDS - RUN_T0))"
    fi
    # Last line: cargo test's totals over all test binaries, in the plain "N passed, N failed"
    # form that CI reads (ignored tests count as skipped).
    if [[ -n $TEST_COUNTS ]]; then printf 'tests: %s\n' "$TEST_COUNTS"; fi
}
# Registered first, so it runs last: after moto_stop.
at_exit summary

# Totals over every "test result:" line that cargo test printed (one per test binary):
# "PASSED FAILED IGNORED BINARIES".
count_tests() {
    awk '/^test result:/ {
            for (i = 2; i <= NF; i++) {
                k = $(i); sub(/;$/, "", k)
                if (k == "passed" || k == "failed" || k == "ignored") n[k] += $(i - 1)
            }
            bins++
         }
         END { printf "%d %d %d %d\n", n["passed"], n["failed"], n["ignored"], bins }' "$TEST_LOG"
}

step tools "infra/scripts/tools.sh"
bash "$ROOT/infra/scripts/tools.sh"

step fmt "cargo fmt --all -- --check"
cargo fmt --all -- --check

step clippy "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step test "cargo test --workspace (DynamoDB on moto)"
moto_start
mkdir -p "$LOG_DIR"
# tee keeps a copy for the totals; pipefail makes cargo's exit status the pipeline's.
test_rc=0
with_test_aws cargo test --workspace "$@" 2>&1 | tee "$TEST_LOG" || test_rc=$?
read -r passed failed ignored bins < <(count_tests) || true
if ((bins > 0)); then
    TEST_COUNTS="$passed passed, $failed failed, $ignored skipped"
    if ((passed + failed == 0)); then warn "cargo test ran no test"; fi
fi
((test_rc == 0)) || exit "$test_rc"
moto_stop

export SAM_CLI_TELEMETRY=0
step sam "sam validate --lint --template template.yaml --region us-east-1"
# Works offline and without AWS credentials: --lint runs cfn-lint locally, and --region spares
# the region lookup. (SAM's weekly update check is best-effort and fails silently offline.)
"$VENV/bin/sam" validate --lint --template template.yaml --region us-east-1

step cfn-lint "cfn-lint template.yaml"
"$VENV/bin/cfn-lint" template.yaml

finish_step
