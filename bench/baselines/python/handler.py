"""The Python contender of the cold-start bench (issue 19): bench/baselines/receiver.py as a Lambda
function on boto3, run by the official Runtime Interface Client (`python -m awslambdaric
handler.lambda_handler`) against the bench's mock Runtime API and moto.

Init builds what a Python receiver builds once per execution environment: boto3's DynamoDB
resource with the sources and delivery-id tables, and its SQS client, from the same environment
Hookpost's receiver reads (HOOKPOST_SOURCES_TABLE, HOOKPOST_DELIVERY_IDS_TABLE,
HOOKPOST_INGEST_QUEUE_URL, HOOKPOST_BODIES_BUCKET; AWS_ENDPOINT_URL and the role's credentials as
Lambda sets them). Each event is then the receiver's work: the source from DynamoDB (kept for
HOOKPOST_SOURCE_CACHE_SECS, as Hookpost's receiver keeps it), X-Hub-Signature-256 checked, the
delivery id claimed, the envelope sent to SQS, the claim confirmed.

The S3 client for bodies too large for an SQS message is built on first use, which this bench never
reaches: Hookpost's receiver builds its S3 client at init, so this favours the baseline.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

# receiver.py is shared with bench/baselines/bench_receiver.py, one folder up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import receiver  # noqa: E402

# Hookpost's receiver default (functions/receiver/src/lib.rs, DEFAULT_SOURCE_CACHE_TTL).
DEFAULT_SOURCE_CACHE_SECONDS = 30


class CachedSources:
    """The sources table behind a per-process cache, as Hookpost's receiver has it."""

    def __init__(self, table, ttl_seconds: float):
        self.table = table
        self.ttl = ttl_seconds
        self.cache: dict[str, tuple[float, dict]] = {}

    def get_item(self, Key: dict) -> dict:  # noqa: N803 (boto3's argument name)
        source_id = Key["source_id"]
        hit = self.cache.get(source_id)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        answer = self.table.get_item(Key=Key)
        if "Item" in answer:
            self.cache[source_id] = (now, answer)
        return answer


class DeliveryIds:
    """The delivery-id table, with DynamoDB's failed condition as receiver.py's exception."""

    def __init__(self, table):
        self.table = table

    def put_item(self, **kwargs):
        try:
            return self.table.put_item(**kwargs)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise receiver.ConditionalCheckFailed() from e
            raise

    def update_item(self, **kwargs):
        return self.table.update_item(**kwargs)

    def delete_item(self, **kwargs):
        return self.table.delete_item(**kwargs)


class LazyS3:
    """An S3 client built on its first call."""

    def __init__(self):
        self.client = None

    def put_object(self, **kwargs):
        if self.client is None:
            self.client = boto3.client("s3")
        return self.client.put_object(**kwargs)


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"{name} is not set")
    return value


_dynamodb = boto3.resource("dynamodb")
lambda_handler = receiver.Receiver(
    sources=CachedSources(
        _dynamodb.Table(_required("HOOKPOST_SOURCES_TABLE")),
        float(os.environ.get("HOOKPOST_SOURCE_CACHE_SECS", DEFAULT_SOURCE_CACHE_SECONDS)),
    ),
    delivery_ids=DeliveryIds(_dynamodb.Table(_required("HOOKPOST_DELIVERY_IDS_TABLE"))),
    sqs=boto3.client("sqs"),
    queue_url=_required("HOOKPOST_INGEST_QUEUE_URL"),
    s3=LazyS3(),
    bucket=_required("HOOKPOST_BODIES_BUCKET"),
)
