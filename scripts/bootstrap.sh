#!/usr/bin/env bash
# Creates the project's Python tooling venv at .venv (moto_server, sam, cfn-lint, cargo-lambda,
# standardwebhooks) and checks the Rust components the checks need.
#
# Idempotent: a stamp holding the hash of the requirements files and the interpreter makes a re-run
# a no-op that takes well under a second. Needs only python3 (with venv/pip), cargo and rustup.
#
#   scripts/bootstrap.sh            install or verify
#   scripts/bootstrap.sh --force    reinstall even if the stamp matches
#   scripts/bootstrap.sh --relock   rebuild .venv from requirements-dev.txt alone and rewrite requirements-dev.lock
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQS="$ROOT/requirements-dev.txt"
LOCK="$ROOT/requirements-dev.lock"
STAMP="$VENV/.hookpost-bootstrap.stamp"
PYTHON="${PYTHON:-python3}"

mode="${1:-}"
case "$mode" in
  "" | --force | --relock) ;;
  *) echo "usage: $0 [--force|--relock]" >&2; exit 2 ;;
esac

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || die "$PYTHON not found; install Python 3.9+ (with the venv module)"
command -v cargo >/dev/null || die "cargo not found; install Rust via rustup"

# Two make targets may bootstrap at once (e.g. `make -j`); serialise them.
if command -v flock >/dev/null; then
  lockfile="${TMPDIR:-/tmp}/hookpost-bootstrap-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1).lock"
  exec 9>"$lockfile"
  flock 9
fi

want_stamp() {
  {
    cat "$REQS"
    [ "$mode" = --relock ] || cat "$LOCK"
    "$PYTHON" -c 'import sys; print(sys.version)'
  } | cksum | cut -d' ' -f1
}

rust_components() {
  # rustfmt and clippy ship with the default rustup profile; only ask rustup (which needs the
  # network) when one is really missing.
  local missing=()
  cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
  cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
  if [ "${#missing[@]}" -gt 0 ]; then
    command -v rustup >/dev/null || die "missing ${missing[*]} and no rustup to install them"
    log "installing Rust components: ${missing[*]}"
    rustup component add "${missing[@]}"
  fi
}

verify_tools() {
  "$VENV/bin/python" -c 'import moto.server, boto3, standardwebhooks, yaml, cryptography' \
    || die "venv is missing a Python module"
  "$VENV/bin/moto_server" --help >/dev/null || die "moto_server does not run"
  "$VENV/bin/sam" --version >/dev/null || die "sam does not run"
  "$VENV/bin/cfn-lint" --version >/dev/null || die "cfn-lint does not run"
  # The binary is a cargo subcommand: invoked directly it wants `lambda` as its first argument.
  "$VENV/bin/cargo-lambda" lambda --version >/dev/null || die "cargo-lambda does not run"
  PATH="$VENV/bin:$PATH" cargo lambda --version >/dev/null || die "cargo does not find cargo-lambda on PATH"
}

stamp="$(want_stamp)"
if [ "$mode" = "" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$stamp" ] && [ -x "$VENV/bin/python" ]; then
  rust_components
  exit 0
fi

start=$(date +%s)
if [ "$mode" = --relock ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  log "creating $VENV"
  "$PYTHON" -m venv --clear "$VENV"
fi
rm -f "$STAMP"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
if [ "$mode" = --relock ]; then
  log "installing requirements-dev.txt unconstrained"
  "$VENV/bin/pip" install -q -r "$REQS"
  {
    echo "# Full pinned set resolved from requirements-dev.txt (pip freeze in a fresh .venv, Python 3.11)."
    echo "# Used as pip constraints by scripts/bootstrap.sh. Regenerate: scripts/bootstrap.sh --relock"
    "$VENV/bin/pip" freeze --all | grep -vE '^(pip|setuptools|wheel)=='
  } >"$LOCK"
  log "wrote $LOCK"
  stamp="$(mode='' want_stamp)"
else
  log "installing requirements-dev.txt (constrained by requirements-dev.lock)"
  "$VENV/bin/pip" install -q -r "$REQS" -c "$LOCK"
fi

verify_tools
rust_components
printf '%s\n' "$stamp" >"$STAMP"
log "ready in $(($(date +%s) - start))s: $("$VENV/bin/sam" --version), $("$VENV/bin/cargo-lambda" lambda --version | cut -d' ' -f1-2), moto $("$VENV/bin/python" -c 'import moto; print(moto.__version__)')"
