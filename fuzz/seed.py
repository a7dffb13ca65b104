#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into fuzz/corpus/<target>/.

Seeds are real requests: every HMAC scheme's signed by `hookpost sign` (the CLI signs exactly as
the receiver verifies), SendGrid's published test vector, Discord's PING, the sample events of
events/ and envelopes in every body encoding. Run it once after adding a provider:

    cargo build -p hookpost-cli && python3 fuzz/seed.py

The fuzzer adds its own finds next to these; `make fuzz` keeps the corpus small with cmin.
"""

import base64
import json
import os
import pathlib
import struct
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
HOOKPOST = os.environ.get("HOOKPOST", str(ROOT / "target" / "debug" / "hookpost"))

# The same order as Provider::ALL and the same secrets as fuzz/src/lib.rs.
PROVIDERS = [
    "github", "stripe", "slack", "shopify", "standard-webhooks", "twilio", "twitch", "zoom",
    "square", "linear", "intercom", "gitlab", "sendgrid", "discord", "generic-hmac",
]
SECRETS = {
    "github": "fuzz-github-secret",
    "stripe": "whsec_fuzzstripe",
    "slack": "fuzz-slack-secret",
    "shopify": "fuzz-shopify-secret",
    "standard-webhooks": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "twilio": "fuzz-twilio-token",
    "twitch": "fuzz-twitch-secret",
    "zoom": "fuzz-zoom-secret",
    "square": "fuzz-square-key",
    "linear": "fuzz-linear-secret",
    "intercom": "fuzz-intercom-secret",
    "gitlab": "fuzz-gitlab-token",
    "generic-hmac": "fuzz-generic-secret",
}
PUBLIC_URL = "https://hooks.example.com/webhooks/fuzz"
# fuzz/src/lib.rs `options`: bit 1 public URL; bits 2-7 the generic-hmac layout.
FLAG_PUBLIC_URL = 0b10
GENERIC = {
    # sha256, hex, `sha256=` prefix, x-timestamp header, no template
    0b0110_0100: ["--algorithm", "sha256", "--encoding", "hex", "--prefix", "sha256=",
                  "--timestamp-header", "x-timestamp"],
    # sha512, base64, no prefix, x-timestamp header, `{timestamp}.{body}`
    0b1101_1000: ["--algorithm", "sha512", "--encoding", "base64",
                  "--timestamp-header", "x-timestamp", "--template", "{timestamp}.{body}"],
    # sha1, hex, nothing else
    0b0000_0000: ["--algorithm", "sha1", "--encoding", "hex"],
}
GENERIC_COMMON = ["--signature-header", "x-signature", "--event-type-header", "x-event-type",
                  "--delivery-id-header", "x-delivery-id"]

SENDGRID_BODY = (b'[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address",'
                 b'"sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",'
                 b'"sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",'
                 b'"smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]\r\n')


def bodies(provider, now):
    """The bodies a provider sends: an event and, where it has one, its handshake."""
    event = {"id": "evt_1", "type": "invoice.paid", "event_id": "Ev1", "action": "create",
             "webhookTimestamp": now * 1000, "data": {"object": {"id": "1"}}}
    if provider == "twilio":
        return [b"AccountSid=AC1&MessageSid=SM1&MessageStatus=delivered&To=%2B15558675310"]
    if provider == "slack":
        return [json.dumps({"type": "url_verification", "challenge": "3eZbrw1aB"}).encode(),
                json.dumps({"type": "event_callback", "event_id": "Ev1",
                            "event": {"type": "app_mention"}}).encode()]
    if provider == "zoom":
        return [json.dumps({"event": "endpoint.url_validation",
                            "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}}).encode(),
                json.dumps({"event": "meeting.started", "event_ts": 1,
                            "payload": {"object": {"id": "1"}}}).encode()]
    if provider == "twitch":
        return [json.dumps({"challenge": "pogchamp-kappa-360noscope-vohiyo",
                            "subscription": {"type": "channel.follow"}}).encode(),
                json.dumps({"subscription": {"type": "channel.follow"},
                            "event": {"user_id": "1"}}).encode()]
    if provider == "linear":
        return [json.dumps({"type": "Issue", "action": "create",
                            "webhookTimestamp": now * 1000}).encode()]
    return [json.dumps(event).encode()]


def sign(provider, body, extra):
    """`hookpost sign` for `body`: the header lines and the second it signed at."""
    CORPUS.mkdir(parents=True, exist_ok=True)
    path = CORPUS / ".body"
    path.write_bytes(body)
    for _ in range(5):
        before = int(time.time())
        out = subprocess.run(
            [HOOKPOST, "sign", "--provider", provider, "--secret", SECRETS[provider],
             "--data-file", str(path), *extra],
            check=True, capture_output=True).stdout
        if int(time.time()) == before:
            path.unlink()
            return out.decode().strip().splitlines(), before
    sys.exit("the clock moved during every signing attempt")


def request_text(headers, body, query=None):
    head = ([f"?{query}"] if query else []) + headers
    return "\n".join(head).encode() + b"\n\n" + body


def write(target, name, data):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def signature_seed(name, provider, flags, now, text):
    header = struct.pack("<BBq", PROVIDERS.index(provider), flags, now)
    write("signatures", name, header + text)


def apigw_event(source, headers, body, now, base64_body=False):
    if base64_body:
        body = base64.b64encode(body).decode()
    else:
        body = body.decode()
    return json.dumps({
        "version": "2.0", "routeKey": "POST /webhooks/{source}",
        "rawPath": f"/webhooks/{source}", "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "hooks.example.com",
            "http": {"method": "POST", "path": f"/webhooks/{source}", "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.1", "userAgent": "fuzz"},
            "requestId": "id", "routeKey": "POST /webhooks/{source}", "stage": "$default",
            "time": "14/Nov/2023:22:13:20 +0000", "timeEpoch": now * 1000},
        "pathParameters": {"source": source},
        "body": body, "isBase64Encoded": base64_body,
    }, indent=1).encode()


def main():
    for provider in PROVIDERS:
        if provider in ("sendgrid", "discord"):
            continue
        layouts = GENERIC.items() if provider == "generic-hmac" else [(0, [])]
        for flags, layout in layouts:
            extra = list(layout) + (GENERIC_COMMON if layout else [])
            if provider in ("twilio", "square"):
                flags |= FLAG_PUBLIC_URL
                extra += ["--public-url", PUBLIC_URL]
            for i, body in enumerate(bodies(provider, int(time.time()))):
                lines, now = sign(provider, body, extra)
                name = f"{provider}-{flags:02x}-{i}"
                signature_seed(name, provider, flags, now, request_text(lines, body))
                if flags in (0, FLAG_PUBLIC_URL, 0b0110_0100):
                    headers = dict(line.split(": ", 1) for line in lines)
                    write("apigw_event", f"{name}.json", apigw_event(provider, headers, body, now))
                    write("apigw_event", f"{name}-base64.json",
                          apigw_event(provider, headers, body, now, base64_body=True))

    sendgrid = [
        "x-twilio-email-event-webhook-signature: MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=",
        "x-twilio-email-event-webhook-timestamp: 1600112502",
    ]
    signature_seed("sendgrid-vector", "sendgrid", 0, 1_600_112_502,
                   request_text(sendgrid, SENDGRID_BODY))
    discord = ["x-signature-ed25519: " + "ab" * 64, "x-signature-timestamp: 1700000000"]
    signature_seed("discord-ping", "discord", 0, 1_700_000_000,
                   request_text(discord, b'{"type":1}'))
    signature_seed("twilio-json-query", "twilio", FLAG_PUBLIC_URL, 1_700_000_000,
                   request_text(["x-twilio-signature: 0frh5oalOr+nm8dLAFJ0KLyYGVQ=",
                                 "content-type: application/json"],
                                b'{"a":1}', query="bodySHA256=0a1b"))

    for sample in sorted((ROOT / "events").glob("apigw-*.json")):
        write("apigw_event", sample.name, sample.read_bytes())
    for sample in sorted((ROOT / "events").glob("sqs-*.json")):
        for record in json.loads(sample.read_text())["Records"]:
            write("envelope", f"{sample.stem}-{record['messageId'][:8]}", record["body"].encode())
    envelope = {
        "version": 1, "event_id": "evt_0196a1b2c3d47e8f9a0b1c2d3e4f5a6b",
        "source_id": "github-example", "provider": "github", "event_type": "push",
        "delivery_id": "72d3162e", "received_at": "2026-11-23T03:00:00.000Z",
        "content_type": "application/json", "headers": {"x-github-event": "push"},
    }
    for encoding, data in [("utf8", '{"a":1}'), ("base64", "//79AA=="),
                           ("stored", "bodies/github-example/evt_0196a1b2")]:
        write("envelope", f"envelope-{encoding}",
              json.dumps({**envelope, "body": {"encoding": encoding, "data": data}}).encode())
    write("envelope", "envelope-version-2", json.dumps({**envelope, "version": 2}).encode())

    for i, text in enumerate([
        b"\x00github-main_2", b"\x00..", b"\x00a%2Fb", b"\x00" + b"a" * 64,
        b"\x01push, pull_request.*|pull_request.opened", b"\x01*|", b"\x01invoice.*.paid|x",
        b"\x02https://example.com/hooks?x=1", b"\x02http://user:pw@127.0.0.1:8080/",
        b"\x02ftp://example.com", b"\x02http://[::ffff:127.0.0.1]/",
        b"\x03svix", b"\x03Standard-Webhooks", b"\x03generic-hmac",
        b"\x04whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", b"\x04whsec_AAAA", b"\x04abc",
        b"\x055s,30s,2m,10m,30m,1h,2h,4h,8h,12h|3|120", b"\x051s|4294967295|18446744073709551615",
        b"\x06120", b"\x06Wed, 21 Oct 2015 07:28:00 GMT",
    ]):
        write("parsers", f"seed-{i:02}", text)


if __name__ == "__main__":
    main()
