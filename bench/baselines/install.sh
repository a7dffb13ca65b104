#!/usr/bin/env bash
# Installs the cold-start bench's Python and Node.js contenders (issue 19) into
# $CARGO_TARGET_DIR/baselines (target/baselines without it):
#
#   python/venv     Python 3.12 with awslambdaric and boto3 (bench/baselines/python/requirements.*)
#   node/           node_modules with aws-lambda-ric (built natively) and the AWS SDK v3
#                   (bench/baselines/node/package*.json), and a copy of index.mjs beside it
#   versions.json   what was installed, for the bench's report
#
# Idempotent: a stamp per contender holds the hash of its pins and interpreter, so a re-run only
# copies index.mjs and takes well under a second. Needs python3 (3.12 preferred: pyenv's, or
# python3.12 on PATH, or BASELINE_PYTHON), Node.js 20 with npm, and for aws-lambda-ric's native
# build a C++ compiler, make, cmake, autoconf, automake and libtool, which it installs with
# apt-get when they are missing.
#
#   bench/baselines/install.sh            install or verify
#   bench/baselines/install.sh --force    reinstall even if the stamps match
#   bench/baselines/install.sh --relock   resolve from requirements.txt and package.json alone and
#                                         rewrite requirements.lock and package-lock.json
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
BASE="$TARGET/baselines"
PY_SRC="$HERE/python"
NODE_SRC="$HERE/node"
# The major version of Node.js the pins were resolved for (aws-lambda-ric 3.3.0; 4.x wants 22).
NODE_MAJOR=20

mode="${1:-}"
case "$mode" in
  "" | --force | --relock) ;;
  *) echo "usage: $0 [--force|--relock]" >&2; exit 2 ;;
esac

log() { printf 'baselines: %s\n' "$*" >&2; }
die() { printf 'baselines: error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$BASE"
# Two make targets may install at once (`make -j`); serialise them.
if command -v flock >/dev/null; then
  exec 9>"$BASE/.install.lock"
  flock 9
fi

checksum() { cat "$@" | cksum | cut -d' ' -f1; }

# Debian's packages for aws-lambda-ric's native build (curl and aws-lambda-cpp from source, then
# node-gyp), installed only when a tool is missing.
build_tools() {
  local missing=() tool
  for tool in g++:g++ make:make cmake:cmake autoconf:autoconf automake:automake libtoolize:libtool; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]} for aws-lambda-ric's native build, and no apt-get to install them"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  log "installing ${missing[*]} with apt-get (aws-lambda-ric builds curl and aws-lambda-cpp from source)"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Python 3.12, as Lambda's python3.12 runtime: BASELINE_PYTHON, else pyenv's newest 3.12, else
# python3.12 on PATH, else python3 (the report names the version used).
find_python() {
  if [ -n "${BASELINE_PYTHON:-}" ]; then
    printf '%s\n' "$BASELINE_PYTHON"
    return
  fi
  local root candidate
  if command -v pyenv >/dev/null && root="$(pyenv root 2>/dev/null)"; then
    candidate="$(ls -d "$root"/versions/3.12.*/bin/python3 2>/dev/null | sort -V | tail -n1)"
    if [ -n "$candidate" ]; then
      printf '%s\n' "$candidate"
      return
    fi
  fi
  if command -v python3.12 >/dev/null; then
    command -v python3.12
    return
  fi
  log "no Python 3.12 found (pyenv, python3.12, BASELINE_PYTHON); using python3"
  command -v python3 || die "python3 not found"
}

install_python() {
  local python venv stamp_file want
  python="$(find_python)"
  venv="$BASE/python/venv"
  stamp_file="$BASE/python/.stamp"
  want="$( { cat "$PY_SRC/requirements.txt"; [ "$mode" = --relock ] || cat "$PY_SRC/requirements.lock"; "$python" -c 'import sys; print(sys.executable, sys.version)'; } | cksum | cut -d' ' -f1)"
  if [ "$mode" = "" ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ] && [ -x "$venv/bin/python" ]; then
    return
  fi
  log "Python: creating $venv with $("$python" --version 2>&1)"
  rm -f "$stamp_file"
  "$python" -m venv --clear "$venv" || die "$python -m venv failed (Debian: apt-get install python3-venv)"
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
  if [ "$mode" = --relock ]; then
    "$venv/bin/pip" install -q -r "$PY_SRC/requirements.txt"
    {
      echo "# Full pinned set resolved from requirements.txt (pip freeze in a fresh venv, Python $("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])'))."
      echo "# Used as pip constraints by bench/baselines/install.sh. Regenerate: bench/baselines/install.sh --relock"
      "$venv/bin/pip" freeze --all | grep -vE '^(pip|setuptools|wheel)=='
    } >"$PY_SRC/requirements.lock"
    log "wrote $PY_SRC/requirements.lock"
    want="$( { cat "$PY_SRC/requirements.txt" "$PY_SRC/requirements.lock"; "$python" -c 'import sys; print(sys.executable, sys.version)'; } | cksum | cut -d' ' -f1)"
  else
    "$venv/bin/pip" install -q -r "$PY_SRC/requirements.txt" -c "$PY_SRC/requirements.lock"
  fi
  "$venv/bin/python" -c 'import awslambdaric, boto3, runtime_client' || die "the Python venv is missing a module"
  printf '%s\n' "$want" >"$stamp_file"
}

install_node() {
  local dir="$BASE/node" stamp_file="$BASE/node/.stamp" want major
  command -v node >/dev/null && command -v npm >/dev/null || die "Node.js $NODE_MAJOR with npm is needed (node, npm on PATH)"
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" = "$NODE_MAJOR" ] || log "Node.js $(node --version) here; the pins were resolved for Node.js $NODE_MAJOR"
  mkdir -p "$dir"
  # The handler is copied every time (cheap): Node resolves its imports from where the file is,
  # so it must sit beside node_modules.
  cp "$NODE_SRC/index.mjs" "$dir/index.mjs"
  want="$( { cat "$NODE_SRC/package.json"; [ "$mode" = --relock ] || cat "$NODE_SRC/package-lock.json"; node --version; } | cksum | cut -d' ' -f1)"
  if [ "$mode" = "" ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ] && [ -d "$dir/node_modules" ]; then
    return
  fi
  build_tools
  rm -f "$stamp_file"
  rm -rf "$dir/node_modules"
  cp "$NODE_SRC/package.json" "$dir/package.json"
  local started
  started=$(date +%s)
  if [ "$mode" = --relock ]; then
    rm -f "$dir/package-lock.json"
    log "Node.js: npm install (aws-lambda-ric's native build takes minutes)"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$NODE_SRC/package-lock.json"
    log "wrote $NODE_SRC/package-lock.json"
    want="$( { cat "$NODE_SRC/package.json" "$NODE_SRC/package-lock.json"; node --version; } | cksum | cut -d' ' -f1)"
  else
    cp "$NODE_SRC/package-lock.json" "$dir/package-lock.json"
    log "Node.js: npm ci (aws-lambda-ric's native build takes minutes)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  [ -f "$dir/node_modules/aws-lambda-ric/dist/rapid-client.node" ] \
    || die "aws-lambda-ric's native client was not built ($dir/node_modules/aws-lambda-ric/dist/rapid-client.node)"
  log "Node.js: installed in $(($(date +%s) - started))s"
  printf '%s\n' "$want" >"$stamp_file"
}

write_versions() {
  local venv="$BASE/python/venv" dir="$BASE/node"
  "$venv/bin/python" - "$dir" >"$BASE/versions.json" <<'EOF'
import importlib.metadata as m, json, platform, subprocess, sys
node_dir = sys.argv[1]
def node_package(name):
    with open(f"{node_dir}/node_modules/{name}/package.json") as f:
        return json.load(f)["version"]
print(json.dumps({
    "python": {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "awslambdaric": m.version("awslambdaric"),
        "boto3": m.version("boto3"),
        "botocore": m.version("botocore"),
    },
    "node": {
        "node": subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip().lstrip("v"),
        "aws-lambda-ric": node_package("aws-lambda-ric"),
        "client-dynamodb": node_package("@aws-sdk/client-dynamodb"),
        "client-sqs": node_package("@aws-sdk/client-sqs"),
    },
}, indent=2))
EOF
}

install_python
install_node
write_versions
log "ready in $BASE: $(tr -d '\n ' <"$BASE/versions.json")"
