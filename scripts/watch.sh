#!/usr/bin/env bash
# `cargo lambda watch` wired to the stack that `hookpost local up` is running.
#
# Reads .hookpost/local.json (written by `hookpost local up`), writes .hookpost/watch.env with the
# endpoint, dummy credentials and the HOOKPOST_* names both functions read at init, and starts the
# Lambda emulator on loopback port 9000 (hot-reloading on code changes). Then, in another shell:
#
#   cargo lambda invoke hookpost-receiver   --data-file events/apigw-github-push.json
#   cargo lambda invoke hookpost-dispatcher --data-file events/sqs-batch-one.json
#
# Extra arguments go to `cargo lambda watch` (e.g. --invoke-port 9100).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"   # cargo-lambda
state=.hookpost/local.json
if [ ! -f "$state" ]; then
  echo "watch: no local stack ($state missing): start one first with \`make local\` in another shell" >&2
  exit 1
fi

.venv/bin/python - "$state" >.hookpost/watch.env <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
n = s["names"]
env = {
    "AWS_ENDPOINT_URL": s["endpoint_url"],
    "AWS_REGION": s["region"],
    "AWS_DEFAULT_REGION": s["region"],
    # The emulator accepts any credentials; these keep the SDK off real ones.
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_EC2_METADATA_DISABLED": "true",
    # Local subscribers listen on 127.0.0.1, which the dispatcher refuses by default.
    "HOOKPOST_ALLOW_PRIVATE_TARGETS": "true",
    # Subscriptions added a moment ago are seen by the next batch, as in `hookpost local up`.
    "HOOKPOST_SUBSCRIPTION_CACHE_SECS": "0",
}
# Every stack name maps to the variable the functions read: sources_table → HOOKPOST_SOURCES_TABLE.
env.update({f"HOOKPOST_{key.upper()}": value for key, value in n.items()})
for k, v in env.items():
    print(f"{k}={v}")
EOF

echo "watch: functions talk to $(grep '^AWS_ENDPOINT_URL=' .hookpost/watch.env | cut -d= -f2-) (env in .hookpost/watch.env)" >&2
# Loopback only. `cargo lambda invoke` sends to [::1] by default, so listen there when the
# machine has IPv6 loopback; otherwise 127.0.0.1 (then invoke with --invoke-address 127.0.0.1).
address=127.0.0.1
if grep -qE '^0{31}1 .* lo$' /proc/net/if_inet6 2>/dev/null; then
  address=::1
fi
exec cargo lambda watch --invoke-address "$address" --env-file .hookpost/watch.env "$@"
