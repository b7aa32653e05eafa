#!/usr/bin/env bash
# Run every check this project has, the same way locally and in CI:
#
#   infra/scripts/test.sh
#
# Steps, stopping at the first failure:
#   1. tools     install or check the pinned test tools (infra/scripts/tools.sh)
#   2. fmt       cargo fmt --all -- --check
#   3. clippy    cargo clippy --workspace --all-targets -- -D warnings, then the Lambda functions
#                alone (their own feature set: no redb, no SES but where it mails, no test support)
#   4. test      cargo test --workspace, with moto (DynamoDB emulator) on loopback; this includes
#                the bounded fuzz targets (shared/tests/fuzz.rs; longer: infra/scripts/fuzz.sh) and
#                the DynamoDB fault-injection tests (shared/tests/faults.rs, infra/faultproxy)
#   5. e2e       end-to-end tests (infra/e2e/tests/*.test.mjs, node --test): the dev server
#                binary in headless Chromium (playwright-core); UPDATE_SCREENSHOTS=1 refreshes
#                the README's screenshots in docs/ (else they go to target/e2e/)
#   6. races     HTTP-level races against the dev server binary on both backends (embedded, and
#                DynamoDB on moto): 20 simultaneous redemptions of one code, refreshes of one
#                token, revocations of one token (infra/reliability/http_concurrency.py)
#   7. conformance  the official MCP conformance suite against the dev server: server scenarios
#                of 2025-11-25 and 2026-07-28 and the authorization server scenarios, with only
#                the failures in infra/conformance/expected-failures.yml (infra/scripts/conformance.sh;
#                results in target/conformance/)
#   8. sam       sam validate --lint on template.yaml (offline, no AWS credentials)
#   9. cfn-lint  cfn-lint template.yaml
#  10. checkov   checkov's CloudFormation checks on template.yaml; every suppression is inline in
#                the template with its reason (infra/scripts/lint.sh checkov)
#  11. actionlint  actionlint on .github/workflows/*.yml (infra/scripts/lint.sh actionlint)
# moto is stopped on any exit, and a summary of the steps is printed last.
#
# Extra arguments go to `cargo test` after `--workspace`, e.g. `infra/scripts/test.sh -- --nocapture`.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

STEP_NAMES=(tools fmt clippy test e2e races conformance sam cfn-lint checkov actionlint)
declare -A STEP_RESULT=()
CURRENT_STEP=""
STEP_T0=0
RUN_T0=$SECONDS
TEST_LOG="$LOG_DIR/cargo-test.log"
E2E_LOG="$LOG_DIR/e2e-test.log"
# "PASSED FAILED SKIPPED" per runner, once it has run.
CARGO_COUNTS=""
E2E_COUNTS=""
CONFORMANCE_COUNTS=""
RACES_COUNTS=""

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
        printf '    %-11s %s\n' "$name" "${STEP_RESULT[$name]:-not run}"
    done
    if moto_running; then warn "moto (pid $MOTO_LAST_PID) is still running"; fi
    if ((rc == 0)); then
        printf '\nAll checks passed in %d s.\n' "$((SECONDS - RUN_T0))"
    else
        printf '\nFAILED at step "%s" (exit %d) after %d s.\n' "${CURRENT_STEP:-?}" "$rc" "$((SECONDS - RUN_T0))"
    fi
    # Last line: the totals over every runner that ran (cargo test's binaries, node --test, the
    # conformance scenarios), in the plain "N passed, N failed" form that CI reads.
    local p=0 f=0 k=0 counts c1 c2 c3 parts=()
    for counts in "$CARGO_COUNTS" "$E2E_COUNTS" "$RACES_COUNTS" "$CONFORMANCE_COUNTS"; do
        [[ -n $counts ]] || continue
        read -r c1 c2 c3 <<<"$counts"
        p=$((p + c1)) f=$((f + c2)) k=$((k + c3))
    done
    [[ -z $CARGO_COUNTS ]] || parts+=("cargo $(plain_counts "$CARGO_COUNTS")")
    [[ -z $E2E_COUNTS ]] || parts+=("e2e $(plain_counts "$E2E_COUNTS")")
    [[ -z $RACES_COUNTS ]] || parts+=("http races $(plain_counts "$RACES_COUNTS")")
    [[ -z $CONFORMANCE_COUNTS ]] || parts+=("conformance scenarios $(plain_counts "$CONFORMANCE_COUNTS")")
    if ((${#parts[@]} > 0)); then
        local joined
        joined="$(printf '%s; ' "${parts[@]}")"
        printf '    (%s)\n' "${joined%; }"
        printf 'tests: %d passed, %d failed, %d skipped\n' "$p" "$f" "$k"
    fi
}
plain_counts() {
    local a b c
    read -r a b c <<<"$1"
    printf '%d passed, %d failed, %d skipped' "$a" "$b" "$c"
}
# Registered first, so it runs last: after moto_stop.
at_exit summary

# node --test's closing lines ("ℹ pass N", "ℹ fail N", ...) in its spec reporter's output:
# "PASSED FAILED SKIPPED" (cancelled count as failed, todo as skipped), or nothing if absent.
count_e2e_tests() {
    awk '$1 == "ℹ" && $3 ~ /^[0-9]+$/ { n[$2] = $3; seen = 1 }
         END { if (seen) printf "%d %d %d\n", n["pass"], n["fail"] + n["cancelled"], n["skipped"] + n["todo"] }' "$E2E_LOG"
}

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
mapfile -t LAMBDAS < <(find functions -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
cargo clippy "${LAMBDAS[@]/#/-p}" -- -D warnings

step test "cargo test --workspace (DynamoDB on moto)"
moto_start
mkdir -p "$LOG_DIR"
# tee keeps a copy for the totals; pipefail makes cargo's exit status the pipeline's.
test_rc=0
with_test_aws cargo test --workspace "$@" 2>&1 | tee "$TEST_LOG" || test_rc=$?
read -r passed failed ignored bins < <(count_tests) || true
if ((bins > 0)); then
    CARGO_COUNTS="$passed $failed $ignored"
    if ((passed + failed == 0)); then warn "cargo test ran no test"; fi
fi
((test_rc == 0)) || exit "$test_rc"
moto_stop

step e2e "end-to-end tests: browser (headless Chromium), MCP SDKs (TypeScript, Python), upstream OIDC (node --test infra/e2e/tests)"
# The tests start the dev server binary (target/debug/devserver) themselves, so build it first:
# cargo test builds it only while some integration test needs it. The same package, target and
# feature selection as `cargo test --workspace` (tests included) makes this a no-op after it,
# where `-p devserver` alone would resolve features anew and could rebuild dependencies.
cargo build --workspace --tests --bin devserver
e2e_tests=("$ROOT"/infra/e2e/tests/*.test.mjs)
[[ -f ${e2e_tests[0]} ]] || die "no end-to-end tests found in infra/e2e/tests"
# --test-timeout bounds each test (a hang fails, with its name); the spec reporter prints each
# test and the closing pass/fail counts. tee keeps a copy for the totals.
e2e_rc=0
(cd "$ROOT/infra/e2e" && node --test --test-reporter=spec --test-timeout=120000 "${e2e_tests[@]}") 2>&1 |
    tee "$E2E_LOG" || e2e_rc=$?
E2E_COUNTS="$(count_e2e_tests)" || true
if [[ -z $E2E_COUNTS ]]; then
    warn "node --test printed no totals"
elif [[ $E2E_COUNTS == "0 0 "* ]]; then
    warn "node --test ran no test"
fi
((e2e_rc == 0)) || exit "$e2e_rc"

step races "HTTP races against the dev server, embedded and DynamoDB (infra/reliability/http_concurrency.py)"
RACES_LOG="$LOG_DIR/http-races.log"
moto_start
races_rc=0
python3 "$ROOT/infra/reliability/http_concurrency.py" \
    --devserver "${CARGO_TARGET_DIR:-$ROOT/target}/debug/devserver" \
    --dynamodb-endpoint "$DYNAMODB_TEST_ENDPOINT" 2>&1 | tee "$RACES_LOG" || races_rc=$?
# Its last line is "http races: N passed, N failed".
RACES_COUNTS="$(tail -n 1 "$RACES_LOG" | awk '$1 == "http" && $4 == "passed," { printf "%d %d 0\n", $3, $5 }')" || true
((races_rc == 0)) || exit "$races_rc"
moto_stop

step conformance "MCP conformance suite (infra/scripts/conformance.sh)"
conformance_rc=0
bash "$ROOT/infra/scripts/conformance.sh" || conformance_rc=$?
# Its summary's last line is "N passed, N failed" (scenarios; expected failures not counted).
if [[ -f $ROOT/target/conformance/summary.txt ]]; then
    CONFORMANCE_COUNTS="$(tail -n 1 "$ROOT/target/conformance/summary.txt" |
        awk '$2 == "passed," && $4 == "failed" { printf "%d %d 0\n", $1, $3 }')" || true
fi
((conformance_rc == 0)) || exit "$conformance_rc"

export SAM_CLI_TELEMETRY=0
step sam "sam validate --lint --template template.yaml --region us-east-1"
# Works offline and without AWS credentials: --lint runs cfn-lint locally, and --region spares
# the region lookup. (SAM's weekly update check is best-effort and fails silently offline.)
"$VENV/bin/sam" validate --lint --template template.yaml --region us-east-1

step cfn-lint "cfn-lint template.yaml"
"$VENV/bin/cfn-lint" template.yaml

step checkov "checkov --framework cloudformation on template.yaml (infra/scripts/lint.sh checkov)"
bash "$ROOT/infra/scripts/lint.sh" checkov

step actionlint "actionlint on .github/workflows (infra/scripts/lint.sh actionlint)"
bash "$ROOT/infra/scripts/lint.sh" actionlint

finish_step
