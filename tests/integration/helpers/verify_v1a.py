#!/usr/bin/env python3
"""Verifies a Standard Webhooks `v1a` (ed25519) signature with the `cryptography` package: an
implementation independent of Hookpost's signer (ed25519-dalek), as the spec's reference libraries
do not implement `v1a` yet.

    verify_v1a.py WHPK_PUBLIC_KEY WEBHOOK_ID WEBHOOK_TIMESTAMP WEBHOOK_SIGNATURE < BODY

Signed content: `{webhook-id}.{webhook-timestamp}.{body}`, the same as `v1`
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
The public key is `whpk_` + base64 of the 32-byte ed25519 public key. Exits 0 when a `v1a` entry
of WEBHOOK_SIGNATURE verifies, 1 when none does, 2 on bad usage.
"""

import base64
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def main() -> int:
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    public, msg_id, timestamp, header = sys.argv[1:]
    if not public.startswith("whpk_"):
        print("the public key must start with whpk_", file=sys.stderr)
        return 2
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public[len("whpk_"):], validate=True))
    content = f"{msg_id}.{timestamp}.".encode() + sys.stdin.buffer.read()
    entries = [e[len("v1a,"):] for e in header.split() if e.startswith("v1a,")]
    for entry in entries:
        try:
            key.verify(base64.b64decode(entry, validate=True), content)
        except (InvalidSignature, ValueError):
            continue
        print("verified")
        return 0
    print(f"no v1a entry of {len(entries)} verifies", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
