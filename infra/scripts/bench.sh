#!/usr/bin/env bash
# The performance benchmark, one command: measures, then writes docs/PERFORMANCE.md.
#
#   infra/scripts/bench.sh
#
# Steps: release builds; store calls per flow on both backends (exits 2, before anything else
# and without touching the page, when a flow is over its store-call budget); the argon2id cost;
# the release dev server under wrk on the embedded store and on the DynamoDB emulator; each
# function's release binary against a loopback Lambda Runtime API (init time, memory); the arm64
# bootstrap sizes; then the page. Not part of the test command: it is slow and its timings depend
# on the machine (the store-call budget is also checked by the test suite).
#
# Environment (defaults in brackets):
#   BENCH_DURATION [10]     seconds per wrk run (each run also ends when its pool runs out)
#   BENCH_RUNS [10]         cold starts per function
#   BENCH_INVOCATIONS [200] invocations of the instance whose memory is measured
#   BENCH_CODE_POOL [3000]  authorization codes minted for the code-grant run at concurrency 32
#   BENCH_ARM64 [auto]      auto: reuse target/lambda/*/bootstrap when newer than the sources,
#                           else build them (infra/scripts/build-lambda.sh); build; skip (reuse
#                           whatever was built last, and say so on the page)
#
# Needs: wrk 4.1.0-3+b2 (`apt-get install wrk=4.1.0-3+b2`, Debian bookworm) and moto in .tools
# (infra/scripts/tools.sh). All traffic stays on 127.0.0.1. Results and logs: target/bench/.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

DURATION="${BENCH_DURATION:-10}"
RUNS="${BENCH_RUNS:-10}"
INVOCATIONS="${BENCH_INVOCATIONS:-200}"
CODE_POOL="${BENCH_CODE_POOL:-3000}"
ARM64="${BENCH_ARM64:-auto}"
FUNCTIONS=(discovery register authorize token revoke mcp)
OUT="$ROOT/target/bench"
PAGE="$ROOT/docs/PERFORMANCE.md"

# The load generator, pinned: Debian bookworm's wrk.
WRK_PIN="4.1.0-3+b2"
command -v wrk >/dev/null || die "wrk is not installed: apt-get install wrk=$WRK_PIN"
wrk_version="$(dpkg-query -W -f '${Version}' wrk 2>/dev/null)" || wrk_version="unknown"
[[ $wrk_version == "$WRK_PIN" ]] || warn "wrk $wrk_version is not the pinned $WRK_PIN (apt-get install wrk=$WRK_PIN); its figures may not compare"
[[ -x $VENV/bin/moto_server ]] || die "moto is not installed: run infra/scripts/tools.sh"

rm -rf "$OUT"
mkdir -p "$OUT/logs"
PHASES=()
phase_start=0
begin() {
    section "$1"
    phase_start=$(date +%s)
}
end() { PHASES+=("$1 $(($(date +%s) - phase_start)) s"); }

load_before="$(uptime | sed 's/.*load average: //')"
bench_start=$(date +%s)

begin "release build (host): functions, dev server, bench tools"
cargo build --release --locked -p discovery -p register -p authorize -p token -p revoke -p mcp -p devserver -p bench
end "build"

begin "store calls per flow (budget check)"
budget_rc=0
target/release/store-calls --backend embedded --json "$OUT/store-calls-embedded.json" || budget_rc=$?
moto_start
if ((budget_rc == 0)); then
    with_test_aws env DYNAMODB_ENDPOINT="$DYNAMODB_TEST_ENDPOINT" \
        target/release/store-calls --backend dynamodb --json "$OUT/store-calls-dynamodb.json" || budget_rc=$?
fi
if ((budget_rc == 2)); then
    die "a flow is over its store-call budget (above); docs/PERFORMANCE.md was not rewritten"
elif ((budget_rc != 0)); then
    die "store-calls failed (exit $budget_rc)"
fi
end "store calls"

begin "argon2id cost"
target/release/argon2-cost --runs 20 --json "$OUT/argon2.json" >/dev/null
# The same with a fixed mmap threshold, so that each 19 MiB block is unmapped when freed (see the page).
MALLOC_MMAP_THRESHOLD_=1048576 target/release/argon2-cost --runs 20 --json "$OUT/argon2-mmap.json" >/dev/null
info "hash median $(python3 -c "import json; print(round(json.load(open('$OUT/argon2.json'))['hash']['median_ms'], 1))") ms"
end "argon2"

begin "dev server under load: embedded store"
python3 bench/measure.py load --devserver target/release/devserver --backend embedded \
    --duration "$DURATION" --code-pool "$CODE_POOL" --logs "$OUT/logs" --out "$OUT/load-embedded.json"
end "load (embedded)"

begin "dev server under load: DynamoDB emulator"
# The emulator handles one request at a time: a smaller code pool covers the same run time.
python3 bench/measure.py load --devserver target/release/devserver --backend dynamodb \
    --dynamodb-endpoint "$DYNAMODB_TEST_ENDPOINT" --duration "$DURATION" --code-pool $((CODE_POOL / 10)) \
    --logs "$OUT/logs" --out "$OUT/load-dynamodb.json"
end "load (DynamoDB)"

begin "Lambda init and memory per function (DynamoDB emulator)"
python3 bench/measure.py lambda --bin-dir target/release --devserver target/release/devserver \
    --dynamodb-endpoint "$DYNAMODB_TEST_ENDPOINT" --runs "$RUNS" --invocations "$INVOCATIONS" \
    --variant authorize:MALLOC_MMAP_THRESHOLD_=1048576 --logs "$OUT/logs" --out "$OUT/lambda.json"
end "lambda"
moto_stop

begin "arm64 bootstrap sizes"
stale=0
newest_source=$(find shared/src functions Cargo.toml Cargo.lock -type f -printf '%T@\n' | sort -n | tail -1)
for f in "${FUNCTIONS[@]}"; do
    bin="target/lambda/$f/bootstrap"
    if [[ ! -f $bin ]] || [[ $(stat -c %Y "$bin") -lt ${newest_source%.*} ]]; then stale=1; fi
done
sizes_note=""
case "$ARM64" in
build) infra/scripts/build-lambda.sh ;;
auto) if ((stale)); then infra/scripts/build-lambda.sh; fi ;;
skip) if ((stale)); then sizes_note="The arm64 bootstraps were older than the sources or missing (BENCH_ARM64=skip): sizes are from the last build."; fi ;;
*) die "BENCH_ARM64 must be auto, build or skip" ;;
esac
{
    printf '{'
    for f in "${FUNCTIONS[@]}"; do
        bin="target/lambda/$f/bootstrap"
        if [[ -f $bin ]]; then
            file -b "$bin" | grep -q 'not stripped' && warn "$bin is not stripped"
            printf '"%s": %d, ' "$f" "$(stat -c %s "$bin")"
        fi
    done
    printf '"_note": "%s"}\n' "$sizes_note"
} >"$OUT/sizes.json"
end "arm64 sizes"

load_after="$(uptime | sed 's/.*load average: //')"
PHASES+=("total $(($(date +%s) - bench_start)) s")

section "docs/PERFORMANCE.md"
cargo_lambda_version="n/a"
if [[ -x .tools/lambda/bin/cargo-lambda ]]; then
    cargo_lambda_version="$(.tools/lambda/bin/cargo-lambda lambda --version 2>/dev/null | awk '{print $2}')" || true
fi
phases_json="$(printf '%s; ' "${PHASES[@]}")"
python3 - "$OUT/machine.json" <<EOF
import json, os, platform, subprocess, sys
def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return "n/a"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "n/a")
mem = next((l.split(":", 1)[1].strip() for l in open("/proc/meminfo") if l.startswith("MemTotal")), "n/a")
json.dump({
    "cpu_model": cpu,
    "nproc": sh("nproc"),
    "mem_total": mem,
    "kernel": platform.release(),
    "load_before": "$load_before",
    "load_after": "$load_after",
    "rustc": sh("rustc", "-V"),
    "wrk": "$wrk_version",
    "python": platform.python_version(),
    "moto": sh("$VENV/bin/python", "-c", "import moto; print(moto.__version__)"),
    "cargo_lambda": "$cargo_lambda_version",
    "git": sh("git", "describe", "--always", "--dirty", "--abbrev=12"),
    "date": sh("date", "-u", "+%Y-%m-%d %H:%M UTC"),
    "phases": "${phases_json%; }",
}, open(sys.argv[1], "w"), indent=2)
EOF
python3 bench/report.py --results "$OUT" --out "$PAGE" --template template.yaml
info "wrote ${PAGE#"$ROOT"/} (results and logs in ${OUT#"$ROOT"/})"
