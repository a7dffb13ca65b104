// The Node.js contender of the cold-start bench (issue 19): a GitHub webhook receiver written the
// way a Node.js Lambda behind an API Gateway HTTP API usually is, on the AWS SDK for JavaScript v3,
// run by the official Runtime Interface Client (`aws-lambda-ric index.handler`) against the
// bench's mock Runtime API and moto.
//
// It does what bench/baselines/receiver.py (and Hookpost's receiver) do for a GitHub-signed event:
// POST and the source id from the route -> the source from DynamoDB (kept for
// HOOKPOST_SOURCE_CACHE_SECS, as Hookpost's receiver keeps it) -> X-Hub-Signature-256 checked in
// constant time -> the delivery id claimed (conditional PutItem) -> the version 1 envelope, in
// shared/src/envelope.rs's field order, sent to SQS -> the claim confirmed -> 202 {"event_id"}.
//
// Init builds the DynamoDB and SQS clients from the environment Hookpost's receiver reads; the
// endpoint and credentials come from AWS_ENDPOINT_URL and the role's variables, as Lambda sets them.
// The S3 client (for bodies too large for an SQS message, which this bench never sends) is loaded
// on first use: Hookpost's receiver builds its S3 client at init, so this favours the baseline.

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";

const ENVELOPE_VERSION = 1;
const MAX_BODY_BYTES = 5 * 1024 * 1024;
// SQS's classic message size limit.
const MAX_MESSAGE_BYTES = 256 * 1024;
const DEDUPE_TTL_SECONDS = 7 * 24 * 3600;
// Hookpost's receiver default (functions/receiver/src/lib.rs, DEFAULT_SOURCE_CACHE_TTL).
const DEFAULT_SOURCE_CACHE_SECONDS = 30;
const SOURCE_ID = /^[A-Za-z0-9_-]{1,64}$/;
// The GitHub headers the envelope keeps, sorted (the envelope's headers are a sorted map).
const GITHUB_KEPT_HEADERS = [
  "user-agent",
  "x-github-delivery",
  "x-github-event",
  "x-github-hook-id",
  "x-github-hook-installation-target-id",
  "x-github-hook-installation-target-type",
];
const JSON_HEADERS = { "content-type": "application/json" };

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

const config = {
  sourcesTable: required("HOOKPOST_SOURCES_TABLE"),
  deliveryIdsTable: required("HOOKPOST_DELIVERY_IDS_TABLE"),
  queueUrl: required("HOOKPOST_INGEST_QUEUE_URL"),
  bucket: required("HOOKPOST_BODIES_BUCKET"),
  sourceCacheMs:
    1000 * Number(process.env.HOOKPOST_SOURCE_CACHE_SECS ?? DEFAULT_SOURCE_CACHE_SECONDS),
};
const dynamodb = new DynamoDBClient({});
const sqs = new SQSClient({});
let s3 = null;
const sources = new Map();

function respond(statusCode, payload) {
  return { statusCode, headers: JSON_HEADERS, body: JSON.stringify(payload) };
}

function refuse(statusCode, code, message) {
  return respond(statusCode, { error: { code, message } });
}

/** `evt_` and a UUIDv7 (48-bit Unix milliseconds, then random), so ids sort by time. */
function newEventId() {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(Date.now(), 0, 6);
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return `evt_${bytes.toString("hex")}`;
}

/** null when X-Hub-Signature-256 matches one of the secrets, else why not. */
function verifyGithub(secrets, headers, body) {
  const signature = headers["x-hub-signature-256"];
  if (signature === undefined) {
    return "missing_signature";
  }
  if (!signature.startsWith("sha256=")) {
    return "malformed_signature";
  }
  const given = Buffer.from(signature);
  for (const secret of secrets) {
    const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
    if (expected.length === given.length && timingSafeEqual(expected, given)) {
      return null;
    }
  }
  return "signature_mismatch";
}

async function getSource(sourceId) {
  const hit = sources.get(sourceId);
  const now = Date.now();
  if (hit && now - hit.at < config.sourceCacheMs) {
    return hit.source;
  }
  const { Item: item } = await dynamodb.send(
    new GetItemCommand({ TableName: config.sourcesTable, Key: { source_id: { S: sourceId } } }),
  );
  if (!item) {
    return null;
  }
  const source = { provider: item.provider.S, secrets: item.secrets.L.map((s) => s.S) };
  sources.set(sourceId, { at: now, source });
  return source;
}

/** Records the delivery id; false when it was seen before (the provider redelivered). */
async function claim(key, eventId, now) {
  const seconds = Math.floor(now / 1000);
  try {
    await dynamodb.send(
      new PutItemCommand({
        TableName: config.deliveryIdsTable,
        Item: {
          delivery_key: { S: key },
          event_id: { S: eventId },
          status: { S: "claimed" },
          claimed_at: { N: String(seconds) },
          expires_at: { N: String(seconds + DEDUPE_TTL_SECONDS) },
        },
        ConditionExpression: "attribute_not_exists(delivery_key)",
      }),
    );
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) {
      return false;
    }
    throw e;
  }
  return true;
}

async function storeBody(key, raw) {
  if (s3 === null) {
    const { S3Client, PutObjectCommand } = await import("@aws-sdk/client-s3");
    s3 = { client: new S3Client({}), PutObjectCommand };
  }
  await s3.client.send(new s3.PutObjectCommand({ Bucket: config.bucket, Key: key, Body: raw }));
}

export async function handler(event) {
  if (event.requestContext?.http?.method !== "POST") {
    return refuse(405, "method_not_allowed", "use POST");
  }
  const sourceId = event.pathParameters?.source ?? "";
  if (!SOURCE_ID.test(sourceId)) {
    return refuse(404, "unknown_source", "no such source");
  }

  let raw;
  let text;
  if (event.isBase64Encoded) {
    const body = event.body ?? "";
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) {
      return refuse(400, "bad_body", "the body is not valid base64");
    }
    raw = Buffer.from(body, "base64");
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      text = null;
    }
  } else {
    text = event.body ?? "";
    raw = Buffer.from(text);
  }
  if (raw.length > MAX_BODY_BYTES) {
    return refuse(413, "payload_too_large", `the body is over ${MAX_BODY_BYTES} bytes`);
  }

  const source = await getSource(sourceId);
  if (source === null) {
    return refuse(404, "unknown_source", "no such source");
  }
  // API Gateway v2 sends lower-case names already; other front doors may not.
  const headers = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    headers[name.toLowerCase()] = value;
  }
  const problem = verifyGithub(source.secrets, headers, raw);
  if (problem !== null) {
    console.warn(`refused source=${sourceId} code=${problem}`);
    return refuse(401, problem, "the signature does not verify");
  }

  const eventType = headers["x-github-event"];
  const deliveryId = headers["x-github-delivery"];
  const eventId = newEventId();
  const now = Date.now();
  let claimKey = null;
  if (deliveryId !== undefined) {
    claimKey = `${sourceId}#${deliveryId}`;
    if (!(await claim(claimKey, eventId, now))) {
      return respond(200, { duplicate: true });
    }
  }

  const envelope = { version: ENVELOPE_VERSION, event_id: eventId, source_id: sourceId, provider: source.provider };
  if (eventType !== undefined) {
    envelope.event_type = eventType;
  }
  if (deliveryId !== undefined) {
    envelope.delivery_id = deliveryId;
  }
  envelope.received_at = new Date(now).toISOString();
  if (headers["content-type"] !== undefined) {
    envelope.content_type = headers["content-type"];
  }
  const kept = {};
  for (const name of GITHUB_KEPT_HEADERS) {
    if (headers[name] !== undefined) {
      kept[name] = headers[name];
    }
  }
  if (Object.keys(kept).length > 0) {
    envelope.headers = kept;
  }
  envelope.body = text !== null ? { encoding: "utf8", data: text } : { encoding: "base64", data: raw.toString("base64") };

  let message = null;
  if (envelope.body.data.length < MAX_MESSAGE_BYTES) {
    message = JSON.stringify(envelope);
    if (Buffer.byteLength(message) > MAX_MESSAGE_BYTES) {
      message = null;
    }
  }
  if (message === null) {
    const key = `bodies/${sourceId}/${eventId}`;
    await storeBody(key, raw);
    envelope.body = { encoding: "stored", data: key };
    message = JSON.stringify(envelope);
  }
  try {
    await sqs.send(new SendMessageCommand({ QueueUrl: config.queueUrl, MessageBody: message }));
  } catch (e) {
    console.error(`enqueue failed event_id=${eventId}`, e);
    if (claimKey !== null) {
      await dynamodb.send(
        new DeleteItemCommand({ TableName: config.deliveryIdsTable, Key: { delivery_key: { S: claimKey } } }),
      );
    }
    return refuse(503, "unavailable", "try again later");
  }
  if (claimKey !== null) {
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: config.deliveryIdsTable,
        Key: { delivery_key: { S: claimKey } },
        UpdateExpression: "SET #s = :done",
        ExpressionAttributeNames: { "#s": "status" },
        ExpressionAttributeValues: { ":done": { S: "queued" } },
      }),
    );
  }
  console.log(`accepted source=${sourceId} event_id=${eventId} type=${eventType}`);
  return respond(202, { event_id: eventId });
}
