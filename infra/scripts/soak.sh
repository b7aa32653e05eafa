#!/usr/bin/env bash
# The soak run, one command: mixed traffic against the release dev server for a bounded time,
# then its verdict, figures and chart in docs/RELIABILITY.md.
#
#   infra/scripts/soak.sh [SECONDS]        default 600 (10 minutes)
#
# Steps: `infra/scripts/tools.sh soak` (matplotlib, pinned in infra/requirements-soak.txt, into
# .tools/soak); the release dev server build; infra/reliability/soak.py against it (embedded
# store, 127.0.0.1 only; it stops itself after SECONDS); then the block between the soak markers
# of docs/RELIABILITY.md and docs/soak.png are rewritten from its report. The page is rewritten
# on a fail too, so the failing figures can be read there; the exit status is the verdict.
#
# Environment: SOAK_WORKERS [3] worker threads holding grants (plus a newcomer, a prober and a
# sampler thread); SOAK_DEVSERVER [unset] a dev server binary to soak instead of building the
# release one (SOAK_LABEL names its build on the page, e.g. "debug"). Results and the server
# log: target/soak/.
#
# Not part of the test command: it runs for minutes and its figures depend on the machine.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

DURATION="${1:-600}"
[[ $DURATION =~ ^[0-9]+$ ]] && ((DURATION >= 30 && DURATION <= 7200)) ||
    die "the duration is a whole number of seconds from 30 to 7200; got ${1:-}"
WORKERS="${SOAK_WORKERS:-3}"
OUT="$ROOT/target/soak"
PAGE="$ROOT/docs/RELIABILITY.md"
SOAK_VENV="$TOOLS_DIR/soak"

section "tools: matplotlib for the chart (infra/scripts/tools.sh soak)"
bash "$ROOT/infra/scripts/tools.sh" soak

if [[ -n ${SOAK_DEVSERVER:-} ]]; then
    BIN="$SOAK_DEVSERVER"
    [[ -x $BIN ]] || die "SOAK_DEVSERVER=$BIN is not an executable"
    LABEL="${SOAK_LABEL:-given}"
    warn "soaking $BIN, not a fresh release build (SOAK_DEVSERVER); the page says so"
else
    section "release build: dev server"
    cargo build --release --locked -p devserver
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/devserver"
    LABEL=release
fi

section "soak: $DURATION s, $WORKERS workers, loopback"
rm -rf "$OUT"
mkdir -p "$OUT"
soak_rc=0
"$SOAK_VENV/bin/python" "$ROOT/infra/reliability/soak.py" \
    --devserver "$BIN" --label "$LABEL" --duration "$DURATION" --workers "$WORKERS" --out "$OUT" || soak_rc=$?
[[ -f $OUT/report.md ]] || die "soak.py wrote no report (exit $soak_rc); see $OUT/devserver.log"

section "docs/RELIABILITY.md: the soak block"
[[ ! -f $OUT/soak.png ]] || cp "$OUT/soak.png" "$ROOT/docs/soak.png"
"$SOAK_VENV/bin/python" - "$PAGE" "$OUT/report.md" <<'PY'
import sys
page, report = sys.argv[1], sys.argv[2]
begin, end = "<!-- soak:begin -->", "<!-- soak:end -->"
text = open(page, encoding="utf-8").read()
if begin not in text or end not in text:
    sys.exit(f"{page} has no {begin} ... {end} block")
block = open(report, encoding="utf-8").read()
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(page, "w", encoding="utf-8").write(f"{head}{begin}\n{block}{end}{tail}")
PY
info "rewrote the soak block of ${PAGE#"$ROOT"/}"
exit "$soak_rc"
