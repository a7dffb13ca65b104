#!/usr/bin/env bash
# Runs a command against LocalStack (SQS, S3, SNS, EventBridge) with DynamoDB and CloudFormation on
# moto beside it, then stops both.
#
#   scripts/with-localstack.sh cargo test --workspace --test integration
#   scripts/with-localstack.sh --relock      rebuild .venv-localstack unconstrained, rewrite the lock
#
# LocalStack runs in host mode (`python -m localstack.runtime.main`, no Docker) from its own venv,
# .venv-localstack (Python 3.13, else 3.12: LocalStack 2026.3 needs 3.12+, the project's tooling
# venv is the system 3.11), installed here from requirements-localstack.txt constrained by
# requirements-localstack.lock; a stamp makes a re-run instant. DynamoDB cannot run inside
# LocalStack here (it downloads Amazon's DynamoDB Local, which is not open source, at start), so
# moto serves it: this script runs itself under scripts/with-moto.sh, keeps moto's endpoint for
# DynamoDB (AWS_ENDPOINT_URL_DYNAMODB, which the AWS SDKs read per service) and points
# AWS_ENDPOINT_URL at LocalStack. CloudFormation goes to moto too (AWS_ENDPOINT_URL_CLOUDFORMATION):
# the tests only read a stack's outputs, and LocalStack's CloudFormation needs its heavy `runtime`
# extra. Exits with the command's status.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-localstack"
REQS="$ROOT/requirements-localstack.txt"
LOCK="$ROOT/requirements-localstack.lock"
STAMP="$VENV/.hookpost-localstack.stamp"
SERVICES="sqs,s3,sns,events"

log() { printf 'with-localstack: %s\n' "$*" >&2; }
die() { printf 'with-localstack: error: %s\n' "$*" >&2; exit 1; }

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...] | --relock" >&2
  exit 2
fi

# Python 3.13 or 3.12: LOCALSTACK_PYTHON, else on PATH, else pyenv's.
find_python() {
  local candidate
  for candidate in "${LOCALSTACK_PYTHON:-}" python3.13 python3.12 \
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13 \
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info[:2] < (3, 12))' >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

want_stamp() {
  { cat "$REQS"; [ "${1:-}" = --relock ] || cat "$LOCK"; "$VENV/bin/python" -c 'import sys; print(sys.version)'; } \
    | cksum | cut -d' ' -f1
}

ensure_venv() {
  local mode="${1:-}"
  if [ "$mode" = "" ] && [ -f "$STAMP" ] && [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP")" = "$(want_stamp)" ]; then
    return 0
  fi
  local python start
  start=$(date +%s)
  if [ "$mode" = --relock ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    python="$(find_python)" || die "LocalStack needs Python 3.12 or 3.13 (set LOCALSTACK_PYTHON, or install one with pyenv)"
    log "creating $VENV with $python"
    "$python" -m venv --clear "$VENV"
  fi
  rm -f "$STAMP"
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
  if [ "$mode" = --relock ]; then
    "$VENV/bin/pip" install -q -r "$REQS"
    {
      echo "# Full pinned set resolved from requirements-localstack.txt (pip freeze in a fresh .venv-localstack, $("$VENV/bin/python" -c 'import platform; print("Python", platform.python_version())'))."
      echo "# Used as pip constraints by scripts/with-localstack.sh. Regenerate: scripts/with-localstack.sh --relock"
      "$VENV/bin/pip" freeze --all | grep -vE '^(pip|setuptools|wheel)=='
    } >"$LOCK"
    log "wrote $LOCK"
  else
    "$VENV/bin/pip" install -q -r "$REQS" -c "$LOCK"
  fi
  "$VENV/bin/python" -c 'import localstack.runtime.main' || die "LocalStack does not import in $VENV"
  want_stamp >"$STAMP"
  log "LocalStack venv ready in $(($(date +%s) - start))s"
}

if [ -z "${HOOKPOST_WITH_LOCALSTACK_INNER:-}" ]; then
  if [ "$1" = --relock ]; then
    ensure_venv --relock
    exit 0
  fi
  # Two make targets may install at once; serialise them.
  if command -v flock >/dev/null; then
    exec 8>"${TMPDIR:-/tmp}/hookpost-localstack-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1).lock"
    flock 8
    ensure_venv
    flock -u 8
  else
    ensure_venv
  fi
  # Moto first (it serves DynamoDB); this script again inside it.
  HOOKPOST_WITH_LOCALSTACK_INNER=1 exec "$ROOT/scripts/with-moto.sh" "$0" "$@"
fi

# Inside scripts/with-moto.sh: AWS_ENDPOINT_URL is moto.
moto="${AWS_ENDPOINT_URL:?with-moto.sh sets AWS_ENDPOINT_URL}"
mkdir -p "$ROOT/target/localstack"
workdir="$(mktemp -d "$ROOT/target/localstack/run.XXXXXX")"
log_file="$workdir/localstack.log"
ls_pid=""
keep=0

stop_localstack() {
  [ -n "$ls_pid" ] || return 0
  # Its own process group (setsid below): stop LocalStack and anything it started. Its state is
  # this run's alone, so there is nothing to shut down gracefully (SIGTERM takes 5-9 s).
  kill -TERM -- "-$ls_pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$ls_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$ls_pid" 2>/dev/null || true
  wait "$ls_pid" 2>/dev/null || true
  ls_pid=""
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_localstack
  if [ "$keep" = 1 ] || [ "$rc" -ne 0 ]; then
    log "LocalStack's log kept at $log_file"
  else
    rm -rf "$workdir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free port (LocalStack prints Ready. even when its port is taken, so the health check below
# also makes sure the answer is its own).
port="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
endpoint="http://127.0.0.1:$port"

# OVERRIDE_IN_DOCKER=0: the machine looks like a container to LocalStack, which would otherwise
# write into system folders. SQS_ENDPOINT_STRATEGY=path and LOCALSTACK_HOST: queue URLs on
# 127.0.0.1:PORT/queue/..., not on localhost.localstack.cloud, which does not resolve here.
env -u AWS_ENDPOINT_URL \
  OVERRIDE_IN_DOCKER=0 \
  FILESYSTEM_ROOT="$workdir/root" \
  GATEWAY_LISTEN="127.0.0.1:$port" \
  SERVICES="$SERVICES" \
  EAGER_SERVICE_LOADING=1 \
  SQS_ENDPOINT_STRATEGY=path \
  LOCALSTACK_HOST="127.0.0.1:$port" \
  DISABLE_EVENTS=1 \
  SKIP_SSL_CERT_DOWNLOAD=1 \
  setsid "$VENV/bin/python" -m localstack.runtime.main >"$log_file" 2>&1 </dev/null &
ls_pid=$!

# If this script is SIGKILLed, the trap never runs; this watchdog stops LocalStack anyway.
(
  trap '' INT
  while kill -0 $$ 2>/dev/null; do sleep 1; done
  kill -KILL -- "-$ls_pid" 2>/dev/null
) >/dev/null 2>&1 &

"$VENV/bin/python" - "$endpoint" "$SERVICES" "$ls_pid" <<'EOF' || { cat "$log_file" >&2; die "LocalStack on $endpoint did not become ready"; }
import json, os, sys, time, urllib.request
endpoint, services, pid = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("LocalStack exited during start")
    try:
        with urllib.request.urlopen(endpoint + "/_localstack/health", timeout=2) as resp:
            state = json.load(resp).get("services", {})
        if all(state.get(s) in ("running", "available") for s in services):
            break
    except (OSError, ValueError):
        pass
    time.sleep(0.1)
else:
    sys.exit("timed out")

# One request to each service, one after another, before the command runs. LocalStack attaches a
# service's operations to its router on that service's first request, and marks the service loaded
# before it has attached them (localstack/aws/handlers/service_plugin.py, ServiceLoader): a second
# request arriving in that window is answered 501 "no handler for operation 'CreateBucket' on
# service 's3'". Two tests provisioning at once hit it once in CI; a first request made here, alone,
# closes the window for the rest of the run.
import boto3

warm = {
    "s3": lambda c: c.list_buckets(),
    "sqs": lambda c: c.list_queues(),
    "sns": lambda c: c.list_topics(),
    "events": lambda c: c.list_event_buses(),
}
for service in services:
    if service not in warm:
        sys.exit(f"no first request for {service}: add one to `warm` in scripts/with-localstack.sh")
    client = boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    try:
        warm[service](client)
    except Exception as error:
        sys.exit(f"LocalStack's {service} did not answer its first request: {error}")
EOF

export AWS_ENDPOINT_URL="$endpoint" HOOKPOST_EMULATOR=localstack
export AWS_ENDPOINT_URL_DYNAMODB="$moto" AWS_ENDPOINT_URL_CLOUDFORMATION="$moto"
log "LocalStack $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("localstack-core"))') on $endpoint (pid $ls_pid; $SERVICES), DynamoDB and CloudFormation on moto at $moto"

set +e
"$@"
rc=$?
set -e
[ "$rc" -eq 0 ] || keep=1
exit "$rc"
