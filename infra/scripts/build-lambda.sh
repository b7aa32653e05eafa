#!/usr/bin/env bash
# Release builds of every function for AWS Lambda (arm64, provided.al2023), with cargo-lambda
# and zig from PyPI (pinned in infra/requirements-lambda.txt), then each bootstrap's size.
#
#   infra/scripts/build-lambda.sh            # all functions
#   infra/scripts/build-lambda.sh token mcp  # some
#
# Output: target/lambda/<function>/bootstrap (under CARGO_TARGET_DIR when set) (what `sam build` packages too). cargo-lambda sets
# lto, codegen-units = 1 and panic = "abort" for release builds; the workspace's release
# profile adds strip.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

LAMBDA_VENV="$ROOT/.tools/lambda"
REQ="$ROOT/infra/requirements-lambda.txt"

section "cargo-lambda and zig"
stamp="$LAMBDA_VENV/.stamp"
want="$(sha256sum <"$REQ" | awk '{print $1}')"
if [[ ! -x $LAMBDA_VENV/bin/cargo-lambda || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    python3 -m venv "$LAMBDA_VENV"
    "$LAMBDA_VENV/bin/pip" install --quiet -r "$REQ"
    echo "$want" >"$stamp"
fi
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
export PATH="$LAMBDA_VENV/bin:$PATH"
info "$(cargo lambda --version)"

if (($#)); then
    functions=("$@")
else
    mapfile -t functions < <(find functions -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
fi

section "cargo lambda build --release --arm64 (${functions[*]})"
# One build per function, as `sam build` makes them (`--bin`, features resolved over the
# workspace's default members: the six functions, never the dev server's or the tests').
start=$(date +%s)
for f in "${functions[@]}"; do
    cargo lambda build --release --arm64 --bin "$f"
done
info "built in $(($(date +%s) - start)) s"

section "bootstrap sizes (stripped, arm64)"
for f in "${functions[@]}"; do
    bin="${CARGO_TARGET_DIR:-target}/lambda/$f/bootstrap"
    [[ -f $bin ]] || die "$bin was not built"
    awk -v f="$f" -v b="$(stat -c %s "$bin")" 'BEGIN { printf "    %-10s %6.1f MiB  (%d bytes)\n", f, b / 1048576, b }'
done
