#!/usr/bin/env python3
"""Times the Python baseline receiver (bench/baselines/receiver.py) on the events the Rust
`receiver` benchmark (functions/receiver/benches/handler.rs) times, and writes
target/bench/python-handler.json for bench/report.py to set beside it (issue 6: the Rust handler
>= 8 x faster than this at 1 KiB, measured in the same run).

The events are generated here, byte for byte the text handler.rs builds: the same GitHub push body
of exactly 1 KiB / 64 KiB / 1 MiB, put into events/apigw-github-push.json with its signature and
serialised as serde_json does (keys sorted, no spaces). `--check-events DIR` compares them with
files `DIR/<size>.json` written from Rust, should the bench ever dump its own.

What is timed, per call, is one invocation as the Python Lambda runtime runs it: `json.loads` of
the event text, the handler, `json.dumps` of the response it returns (event text in, response text
out, as in the Rust bench). The AWS clients are in-memory fakes, as the Rust bench's ports are:
the source table returns the source, every delivery id is new, S3 keeps the last object, and SQS
keeps the last SendMessage request body, serialised as botocore's JSON protocol does
(`json.dumps(params).encode()`). `python-sendmessage-body/<size>` times that serialisation alone,
to show its share.

Method, as bench/report.py's: many calls in batches; a benchmark's time is the 10th percentile of
its batches' time per call (on a shared machine other processes only ever add time). 100 batches
(30 at 1 MiB, as criterion's sample sizes in handler.rs) over about 3 s after a 1 s warm-up.

Before timing it runs the self-test (`--self-test` runs only that): a good signature is accepted
and queued intact, a bad one is refused and queues nothing, so the baseline cannot be a no-op.

Python 3 standard library only. Usage:
    python3 bench/baselines/bench_receiver.py [--self-test] [--out PATH] [--check-events DIR]
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import hmac
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import receiver  # noqa: E402  (the module next to this file)

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE_EVENT = ROOT / "events" / "apigw-github-push.json"
OUT = ROOT / "target" / "bench" / "python-handler.json"

# The Rust bench's constants (handler.rs).
SIZES = [("1KiB", 1024), ("64KiB", 64 * 1024), ("1MiB", 1024 * 1024)]
SOURCE_ID = "github-example"
SECRET = "bench-secret-0123456789abcdefghi"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/hookpost-ingest"
BUCKET = "hookpost-bodies"

WARM_UP_SECONDS = 1.0
MEASURE_SECONDS = 3.0


def push_body(size: int) -> str:
    """handler.rs's `push_body`: a GitHub push payload of exactly `size` bytes."""
    head = ('{"ref":"refs/heads/main","repository":{"id":1296269,"full_name":"octocat/Hello-World"},'
            '"pusher":{"name":"octocat"},"commits":[')

    def record(i: int) -> str:
        return ('{"id":"%040x","message":"Fix the \\"quoted\\" bug in module %d","author":'
                '{"name":"Octo Cat","email":"octo@example.com"},"added":["src/lib.rs"],'
                '"distinct":true}' % (i, i))

    tail_open, tail_close = '],"padding":"', '"}'
    body, i = head, 0
    while True:
        nxt = record(i)
        separator = 1 if i > 0 else 0
        if len(body) + separator + len(nxt) + len(tail_open) + len(tail_close) > size:
            break
        if i > 0:
            body += ","
        body += nxt
        i += 1
    body += tail_open
    body += "x" * max(0, size - len(body) - len(tail_close)) + tail_close
    assert len(body) == size, f"the push body is exactly {size} bytes"
    return body


def github_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_text(body: str) -> str:
    """handler.rs's `event_text`: the sample API Gateway v2 event carrying `body`, signed.

    serde_json (without `preserve_order`, as this workspace builds it) keeps objects as sorted
    maps and writes them without spaces, non-ASCII unescaped: `sort_keys`, compact separators and
    `ensure_ascii=False` write the same bytes.
    """
    event = json.loads(SAMPLE_EVENT.read_text())
    event["body"] = body
    event["isBase64Encoded"] = False
    event["pathParameters"]["source"] = SOURCE_ID
    event["rawPath"] = f"/webhooks/{SOURCE_ID}"
    event["requestContext"]["http"]["path"] = f"/webhooks/{SOURCE_ID}"
    event["headers"]["x-hub-signature-256"] = github_signature(SECRET, body.encode())
    event["headers"]["content-length"] = str(len(body.encode()))
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class FakeSources:
    def __init__(self, item: dict):
        self.item = item

    def get_item(self, Key: dict) -> dict:  # noqa: N803  (boto3's argument names)
        return {"Item": self.item} if Key["source_id"] == self.item["source_id"] else {}


class FakeDeliveryIds:
    """Every delivery id is new, as in the Rust bench (each iteration sends the same one)."""

    def put_item(self, **params) -> dict:
        return {}

    def update_item(self, **params) -> dict:
        return {}

    def delete_item(self, **params) -> dict:
        return {}


class FakeSqs:
    """Keeps the last SendMessage request body, serialised as botocore's JSON protocol does."""

    def __init__(self):
        self.request = b""

    def send_message(self, **params) -> dict:
        self.request = json.dumps(params).encode("utf-8")
        return {"MessageId": "m-1"}


class FakeS3:
    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> dict:  # noqa: N803
        self.objects = {Key: Body}
        return {}


def new_receiver() -> tuple[receiver.Receiver, FakeSqs, FakeS3]:
    sqs, s3 = FakeSqs(), FakeS3()
    handler = receiver.Receiver(
        sources=FakeSources({"source_id": SOURCE_ID, "provider": "github", "secrets": [SECRET]}),
        delivery_ids=FakeDeliveryIds(),
        sqs=sqs,
        queue_url=QUEUE_URL,
        s3=s3,
        bucket=BUCKET,
    )
    return handler, sqs, s3


def queued_body(sqs: FakeSqs, s3: FakeS3) -> bytes:
    """The body the queued envelope carries, fetched from S3 when it was stored aside."""
    envelope = json.loads(json.loads(sqs.request)["MessageBody"])
    assert envelope["version"] == receiver.ENVELOPE_VERSION
    body = envelope["body"]
    if body["encoding"] == "stored":
        return s3.objects[body["data"]]
    if body["encoding"] == "base64":
        return base64.b64decode(body["data"])
    return body["data"].encode()


def self_test() -> None:
    """The baseline really checks: good signatures pass and queue the body intact, bad ones fail
    and queue nothing."""
    for label, size in SIZES:
        body = push_body(size)
        text = event_text(body)
        handler, sqs, s3 = new_receiver()
        response = handler(json.loads(text))
        assert response["statusCode"] == 202, (label, response)
        assert json.loads(response["body"])["event_id"].startswith("evt_")
        assert queued_body(sqs, s3) == body.encode(), label
        envelope = json.loads(json.loads(sqs.request)["MessageBody"])
        assert envelope["event_type"] == "push" and envelope["source_id"] == SOURCE_ID
        assert envelope["delivery_id"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
        assert (envelope["body"]["encoding"] == "stored") == (size > receiver.MAX_MESSAGE_BYTES)

        tampered = json.loads(text)
        tampered["body"] = body[:-2] + 'y"}'
        wrong_secret = json.loads(text)
        wrong_secret["headers"]["x-hub-signature-256"] = github_signature("not-the-secret",
                                                                          body.encode())
        unsigned = json.loads(text)
        del unsigned["headers"]["x-hub-signature-256"]
        for name, event in [("tampered body", tampered), ("wrong secret", wrong_secret),
                            ("no signature", unsigned)]:
            handler, sqs, s3 = new_receiver()
            response = handler(event)
            assert response["statusCode"] == 401, (label, name, response)
            assert sqs.request == b"" and not s3.objects, (label, name, "nothing is queued")

    # A body API Gateway marked isBase64Encoded, not UTF-8: accepted, queued as base64.
    raw = bytes(range(256))
    event = json.loads(event_text("x"))
    event["body"] = base64.b64encode(raw).decode()
    event["isBase64Encoded"] = True
    event["headers"]["x-hub-signature-256"] = github_signature(SECRET, raw)
    handler, sqs, s3 = new_receiver()
    assert handler(event)["statusCode"] == 202
    assert json.loads(json.loads(sqs.request)["MessageBody"])["body"]["encoding"] == "base64"
    assert queued_body(sqs, s3) == raw
    # An unknown source and a GET are refused before any work.
    event = json.loads(event_text("{}"))
    event["pathParameters"]["source"] = "nope"
    assert new_receiver()[0](event)["statusCode"] == 404
    event = json.loads(event_text("{}"))
    event["requestContext"]["http"]["method"] = "GET"
    assert new_receiver()[0](event)["statusCode"] == 405


def time_per_call(run, batches: int) -> float:
    """The 10th percentile over `batches` batches of time per call (ns), after a warm-up."""
    deadline = time.perf_counter() + WARM_UP_SECONDS
    calls = 0
    started = time.perf_counter_ns()
    while time.perf_counter() < deadline:
        run()
        calls += 1
    estimate = (time.perf_counter_ns() - started) / calls
    per_batch = max(1, round(MEASURE_SECONDS * 1e9 / batches / estimate))
    samples = []
    for _ in range(batches):
        started = time.perf_counter_ns()
        for _ in range(per_batch):
            run()
        samples.append((time.perf_counter_ns() - started) / per_batch)
    samples.sort()
    # As bench/report.py's `percentile(values, 0.10)`.
    return samples[min(len(samples) - 1, int(0.10 * len(samples)))]


def measure() -> list[dict]:
    figures = []
    for label, size in SIZES:
        text = event_text(push_body(size))
        handler, sqs, _ = new_receiver()
        batches = 30 if size >= 1024 * 1024 else 100
        loads, dumps = json.loads, json.dumps

        def run():
            dumps(handler(loads(text)))

        ns = time_per_call(run, batches)
        figures.append({"name": f"receiver/python-baseline/{label}/time", "value": round(ns, 1),
                        "unit": "ns"})
        params = json.loads(sqs.request)

        def serialise():
            json.dumps(params).encode("utf-8")

        ns = time_per_call(serialise, batches)
        figures.append({"name": f"receiver/python-sendmessage-body/{label}/time",
                        "value": round(ns, 1), "unit": "ns"})
        print(f"{label:>6}: handler {figures[-2]['value'] / 1e3:10.1f} us/call, "
              f"of which SendMessage body {ns / 1e3:8.1f} us", flush=True)
    return figures


def check_events(directory: Path) -> None:
    for label, size in SIZES:
        theirs = (directory / f"{label}.json").read_bytes()
        ours = event_text(push_body(size)).encode()
        assert ours == theirs, f"{label}: the generated event differs from {directory}"
    print(f"events match {directory}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--self-test", action="store_true", help="only run the self-test")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check-events", type=Path, metavar="DIR")
    args = parser.parse_args()
    # The refusals the self-test provokes are logged as warnings; no need to see them. (Accepted
    # events log at INFO, which is off, as the Rust bench runs without a tracing subscriber.)
    logging.getLogger("receiver").addHandler(logging.NullHandler())
    logging.getLogger("receiver").propagate = False
    self_test()
    print("self-test passed: good signatures accepted and queued intact, bad ones refused")
    if args.check_events:
        check_events(args.check_events)
    if args.self_test:
        return 0
    gc.collect()
    figures = measure()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    context = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": os.path.realpath(sys.executable),
        "method": "10th percentile of per-batch time per call; json.loads of the event and "
                  "json.dumps of the response included",
        "events": "generated by bench/baselines/bench_receiver.py, byte-identical to handler.rs's",
    }
    args.out.write_text(json.dumps({"figures": figures, "context": context}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
