#!/usr/bin/env bash
# Soak: mixed traffic (new clients, sign-ups, grants, refreshes, tool calls, revocations) against
# the release dev server on the embedded store, for a bounded time, loopback only; stops itself.
#
#   infra/scripts/soak.sh [SECONDS]        (default 600)
#
# Reports answers by status, p50/p99 per flow over time, RSS over time and store growth, and
# checks that expired records are refused. Pass rule: 0 unexpected answers, flat RSS after the
# warm-up, expired records refused. Results in target/soak/ (results.json, summary.md, soak.png).
# Installs the chart's matplotlib (infra/requirements-soak.txt) into .tools/venv first.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

SECONDS_TO_RUN="${1:-600}"
[[ $SECONDS_TO_RUN =~ ^[0-9]+$ ]] && ((SECONDS_TO_RUN >= 30)) || die "SECONDS must be a number >= 30; got $SECONDS_TO_RUN"

section "tools: matplotlib for the chart (infra/requirements-soak.txt)"
[[ -x $VENV/bin/python ]] || die "no venv in ${VENV#"$ROOT"/}: run infra/scripts/tools.sh first"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/infra/requirements-soak.txt"

section "build: the release dev server"
cargo build --release -p devserver --bin devserver
target_dir="${CARGO_TARGET_DIR:-$ROOT/target}"

section "soak: $SECONDS_TO_RUN s (python infra/scripts/soak.py)"
out="$ROOT/target/soak"
mkdir -p "$out"
"$VENV/bin/python" "$ROOT/infra/scripts/soak.py" --devserver "$target_dir/release/devserver" \
    --out "$out" --seconds "$SECONDS_TO_RUN"
