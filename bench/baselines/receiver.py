"""The Python baseline for the receiver benchmark (issue 6): a GitHub webhook receiver written the
way a Python Lambda behind an API Gateway HTTP API usually is, standard library only (hmac, json,
base64), doing the work Hookpost's receiver does for a GitHub-signed event:

    API Gateway v2 event -> POST and the source id from the route -> the source's secrets
    -> body (base64-decoded when isBase64Encoded) -> X-Hub-Signature-256 checked with
    hmac.compare_digest -> event type and delivery id from the headers -> delivery id claimed
    (dedupe) -> the versioned envelope as JSON (body as UTF-8 text, else base64; stored aside when
    the envelope would not fit a 256 KiB SQS message) -> sqs.send_message -> 202 {"event_id"}

The AWS clients are passed in, shaped like boto3's (`get_item`, `put_item`, `update_item`,
`send_message`, `put_object`), so the same code runs on boto3 clients in Lambda and on the
in-memory fakes of bench/baselines/bench_receiver.py. The envelope is the one
shared/src/envelope.rs writes (version 1), byte for byte in field order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import time
from datetime import datetime, timezone

logger = logging.getLogger("receiver")

ENVELOPE_VERSION = 1
MAX_BODY_BYTES = 5 * 1024 * 1024
# SQS's classic message size limit.
MAX_MESSAGE_BYTES = 256 * 1024
DEDUPE_TTL_SECONDS = 7 * 24 * 3600
SOURCE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The GitHub headers the envelope keeps, in sorted order (the envelope's headers are a sorted map).
GITHUB_KEPT_HEADERS = sorted(
    (
        "x-github-event",
        "x-github-delivery",
        "x-github-hook-id",
        "x-github-hook-installation-target-id",
        "x-github-hook-installation-target-type",
        "user-agent",
    )
)
JSON_HEADERS = {"content-type": "application/json"}
# Made once: `json.dumps(..., separators=...)` would build a new encoder on every call.
COMPACT = json.JSONEncoder(separators=(",", ":"))


def _response(status: int, payload: dict) -> dict:
    return {"statusCode": status, "headers": JSON_HEADERS, "body": json.dumps(payload)}


def _refuse(status: int, code: str, message: str) -> dict:
    return _response(status, {"error": {"code": code, "message": message}})


def new_event_id() -> str:
    """`evt_` and a UUIDv7 (48-bit Unix milliseconds, then random), so ids sort by time."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 4122 variant
    return f"evt_{value:032x}"


def verify_github(secrets: list[str], headers: dict, body: bytes) -> str | None:
    """None when X-Hub-Signature-256 matches one of the secrets, else why not."""
    signature = headers.get("x-hub-signature-256")
    if signature is None:
        return "missing_signature"
    if not signature.startswith("sha256="):
        return "malformed_signature"
    for secret in secrets:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, signature):
            return None
    return "signature_mismatch"


class Receiver:
    """`lambda_handler = Receiver(...)`: one instance per warm function, called per event."""

    def __init__(self, *, sources, delivery_ids, sqs, queue_url: str, s3, bucket: str):
        self.sources = sources
        self.delivery_ids = delivery_ids
        self.sqs = sqs
        self.queue_url = queue_url
        self.s3 = s3
        self.bucket = bucket

    def __call__(self, event: dict, context=None) -> dict:
        if event["requestContext"]["http"]["method"] != "POST":
            return _refuse(405, "method_not_allowed", "use POST")
        source_id = (event.get("pathParameters") or {}).get("source", "")
        if not SOURCE_ID.fullmatch(source_id):
            return _refuse(404, "unknown_source", "no such source")

        body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(body, validate=True)
            except binascii.Error:
                return _refuse(400, "bad_body", "the body is not valid base64")
            try:
                text = raw.decode()
            except UnicodeDecodeError:
                text = None
        else:
            text = body
            raw = body.encode()
        if len(raw) > MAX_BODY_BYTES:
            return _refuse(413, "payload_too_large", f"the body is over {MAX_BODY_BYTES} bytes")

        source = self.sources.get_item(Key={"source_id": source_id}).get("Item")
        if source is None:
            return _refuse(404, "unknown_source", "no such source")
        # API Gateway v2 sends lower-case names already; other front doors may not.
        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
        problem = verify_github(source["secrets"], headers, raw)
        if problem is not None:
            logger.warning("refused source=%s code=%s", source_id, problem)
            return _refuse(401, problem, "the signature does not verify")

        event_type = headers.get("x-github-event")
        delivery_id = headers.get("x-github-delivery")
        event_id = new_event_id()
        now = time.time()
        claim_key = None
        if delivery_id is not None:
            claim_key = f"{source_id}#{delivery_id}"
            if not self.claim(claim_key, event_id, now):
                return _response(200, {"duplicate": True})

        envelope = {"version": ENVELOPE_VERSION, "event_id": event_id, "source_id": source_id,
                    "provider": source["provider"]}
        if event_type is not None:
            envelope["event_type"] = event_type
        if delivery_id is not None:
            envelope["delivery_id"] = delivery_id
        envelope["received_at"] = (
            datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        content_type = headers.get("content-type")
        if content_type is not None:
            envelope["content_type"] = content_type
        kept = {name: headers[name] for name in GITHUB_KEPT_HEADERS if name in headers}
        if kept:
            envelope["headers"] = kept
        if text is not None:
            envelope["body"] = {"encoding": "utf8", "data": text}
        else:
            envelope["body"] = {"encoding": "base64", "data": base64.b64encode(raw).decode()}

        # ensure_ascii (the default) makes len() the size in bytes.
        message = None
        if len(envelope["body"]["data"]) < MAX_MESSAGE_BYTES:
            message = COMPACT.encode(envelope)
            if len(message) > MAX_MESSAGE_BYTES:
                message = None
        if message is None:
            key = f"bodies/{source_id}/{event_id}"
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=raw)
            envelope["body"] = {"encoding": "stored", "data": key}
            message = COMPACT.encode(envelope)
        try:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=message)
        except Exception:
            logger.exception("enqueue failed event_id=%s", event_id)
            if claim_key is not None:
                self.delivery_ids.delete_item(Key={"delivery_key": claim_key})
            return _refuse(503, "unavailable", "try again later")
        if claim_key is not None:
            self.delivery_ids.update_item(
                Key={"delivery_key": claim_key},
                UpdateExpression="SET #s = :done",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":done": "queued"},
            )
        logger.info("accepted source=%s event_id=%s type=%s", source_id, event_id, event_type)
        return _response(202, {"event_id": event_id})

    def claim(self, key: str, event_id: str, now: float) -> bool:
        """Records the delivery id; False when it was seen before (the provider redelivered)."""
        try:
            self.delivery_ids.put_item(
                Item={"delivery_key": key, "event_id": event_id, "status": "claimed",
                      "claimed_at": int(now), "expires_at": int(now) + DEDUPE_TTL_SECONDS},
                ConditionExpression="attribute_not_exists(delivery_key)",
            )
        except ConditionalCheckFailed:
            return False
        return True


class ConditionalCheckFailed(Exception):
    """What a client raises when put_item's condition fails (boto3:
    `ConditionalCheckFailedException`)."""
