#!/usr/bin/env bash
# Runs a command against a private moto server, then stops the server.
#
#   scripts/with-moto.sh cargo test -p hookpost-tests
#
# Starts .venv/bin/moto_server on a free 127.0.0.1 port (moto binds port 0 and reports the port it
# got, so there is no pick-then-bind race), waits until it answers, exports the AWS settings every
# SDK reads (AWS_ENDPOINT_URL, region, dummy credentials), runs the command, and stops moto however
# the command ends. Exits with the command's status. Run scripts/bootstrap.sh first (make does).
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
[ -x "$VENV/bin/moto_server" ] || { echo "with-moto: $VENV/bin/moto_server missing; run scripts/bootstrap.sh" >&2; exit 1; }

workdir="$(mktemp -d "${TMPDIR:-/tmp}/hookpost-moto.XXXXXX")"
log="$workdir/moto.log"
moto_pid=""
watchdog_pid=""
keep_log=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$watchdog_pid" ] && kill "$watchdog_pid" 2>/dev/null || true
  if [ -n "$moto_pid" ] && kill -0 "$moto_pid" 2>/dev/null; then
    kill "$moto_pid" 2>/dev/null || true
    # Give Flask a moment to exit, then make sure.
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$moto_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
  fi
  if [ "$keep_log" = 1 ] || [ "$rc" -ne 0 ]; then
    echo "with-moto: moto server log kept at $log" >&2
  else
    rm -rf "$workdir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$VENV/bin/moto_server" -H 127.0.0.1 -p 0 >"$log" 2>&1 &
moto_pid=$!

# If this script is SIGKILLed, the trap never runs; this watchdog stops moto anyway.
(
  trap '' INT
  while kill -0 $$ 2>/dev/null; do sleep 1; done
  kill "$moto_pid" 2>/dev/null
) >/dev/null 2>&1 &
watchdog_pid=$!

port=""
for _ in $(seq 1 200); do
  kill -0 "$moto_pid" 2>/dev/null || { echo "with-moto: moto_server exited during start:" >&2; cat "$log" >&2; exit 1; }
  port="$(grep -oE 'Running on http://127\.0\.0\.1:[0-9]+' "$log" | head -n1 | sed 's/.*://')" || true
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "with-moto: moto_server did not report a port within 10s:" >&2; cat "$log" >&2; exit 1; }

endpoint="http://127.0.0.1:$port"
# Ready means it answers a real SQS call, not just that the socket is open.
"$VENV/bin/python" - "$endpoint" <<'EOF' || { echo "with-moto: moto_server at $endpoint does not answer" >&2; exit 1; }
import sys, time, urllib.request
url = sys.argv[1] + "/"
req = urllib.request.Request(
    url,
    data=b"Action=ListQueues",
    headers={
        "Content-Type": "application/x-www-form-urlencoded",
        # moto routes on the credential scope's service name.
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
    },
)
deadline = time.monotonic() + 10
while True:
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            if b"ListQueuesResponse" in resp.read():
                sys.exit(0)
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(0.05)
EOF

export AWS_ENDPOINT_URL="$endpoint"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
# Never fall through to real credentials or the instance metadata service.
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE
export AWS_EC2_METADATA_DISABLED=true
# Which emulator this is, for the few assertions where emulators differ from AWS (moto has no
# StartMessageMoveTask); scripts/with-localstack.sh says `localstack`.
export HOOKPOST_EMULATOR=moto
echo "with-moto: moto_server on $endpoint (pid $moto_pid)" >&2

# The command runs in the foreground so it keeps the terminal and gets Ctrl-C itself.
set +e
"$@"
rc=$?
set -e
[ "$rc" -eq 0 ] || keep_log=1
exit "$rc"
