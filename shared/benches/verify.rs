//! `verify`: what checking a provider's signature costs, beside the floor every HMAC scheme sits
//! on, one HMAC-SHA256 over the same bytes.
//!
//! For every provider in [`Provider::ALL`] a correctly signed request is built once, outside the
//! timed loop (SendGrid and Discord with test keys of our own, since only the provider holds the
//! real private key), and only `provider.verify(&check, &inbound)` is timed, at 1 KiB, 64 KiB
//! and 1 MiB. The `raw-*` entries are references, not schemes: `raw-hmac-sha256` is the floor
//! the goals are stated against (`bench/report.py`), `raw-hmac-sha1` and `raw-sha512` are the
//! primitives Twilio, Intercom and Discord's Ed25519 hash with, and `raw-ed25519` and `raw-p256`
//! (a bare verify of the same message) the floors Discord and SendGrid are judged against.
//!
//! Run with `make bench`, or `cargo bench -p hookpost-shared --bench verify`.

use std::hint::black_box;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::{
    Check, DigestEncoding, GenericHmac, HmacAlgorithm, Inbound, Provider, SchemeOptions, TimePolicy,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use p256::ecdsa::signature::{DigestSigner as _, DigestVerifier as _};
use sha2::{Digest as _, Sha256, Sha512};

/// The body sizes every figure is measured at: a typical event, a large one, and a batch at the
/// top of what providers send.
const SIZES: [(&str, usize); 3] = [("1KiB", 1024), ("64KiB", 64 * 1024), ("1MiB", 1024 * 1024)];

/// The clock every request is signed and checked at.
const NOW: i64 = 1_700_000_000;
/// A 32-character secret, the length providers' dashboards typically hand out.
const TEXT_SECRET: &str = "bench-secret-0123456789abcdefghi";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PUBLIC_URL: &str = "https://hooks.example.com/webhooks/bench";
/// The fixed DER prefix of a P-256 SubjectPublicKeyInfo, before the uncompressed point: the form
/// SendGrid's dashboard shows the verification key in.
const P256_SPKI_PREFIX: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";

/// One signed request, ready to verify.
struct Signed {
    secrets: Vec<Secret>,
    options: SchemeOptions,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Signed {
    fn check(&self, provider: Provider) -> Check<'_> {
        Check {
            secrets: &self.secrets,
            policy: TimePolicy {
                now: NOW,
                tolerance: provider.default_tolerance(),
            },
            options: &self.options,
        }
    }

    fn inbound(&self) -> Inbound<'_> {
        Inbound {
            headers: &self.headers,
            body: &self.body,
            query: None,
        }
    }
}

/// A JSON object of exactly `size` bytes shaped like a push or invoice event: many small records
/// (what JSON-reading schemes pay for), with `webhookTimestamp` for Linear and `type`/`id` for
/// the others.
fn json_body(size: usize) -> Vec<u8> {
    let head = format!(
        r#"{{"id":"evt_bench","type":"invoice.paid","action":"create","webhookTimestamp":{},"commits":["#,
        NOW * 1000
    );
    let record = |i: usize| {
        format!(
            r#"{{"id":"{i:040x}","message":"Fix the \"quoted\" bug in module {i}","author":{{"name":"Octo Cat","email":"octo@example.com"}},"added":["src/lib.rs"],"distinct":true}}"#
        )
    };
    let tail_open = r#"],"padding":""#;
    let tail_close = r#""}"#;
    let mut body = head;
    let mut i = 0;
    loop {
        let next = record(i);
        let separator = usize::from(i > 0);
        if body.len() + separator + next.len() + tail_open.len() + tail_close.len() > size {
            break;
        }
        if i > 0 {
            body.push(',');
        }
        body.push_str(&next);
        i += 1;
    }
    body.push_str(tail_open);
    let padding = size.saturating_sub(body.len() + tail_close.len());
    body.extend(std::iter::repeat_n('x', padding));
    body.push_str(tail_close);
    assert_eq!(body.len(), size, "the JSON body is exactly {size} bytes");
    body.into_bytes()
}

/// A form body of exactly `size` bytes, as Twilio posts: a few status parameters and a long,
/// percent-encoded `Body` (spaces as `+`, so decoding allocates as it does for real messages).
fn form_body(size: usize) -> Vec<u8> {
    let mut body = String::from(
        "AccountSid=AC0123456789abcdef0123456789abcdef&MessageSid=SM0123456789abcdef0123456789abcdef\
         &MessageStatus=delivered&To=%2B15005550006&From=%2B15005550001&Body=",
    );
    let words = [
        "Hello", "from", "Twilio", "%2C", "your", "code", "is", "4711",
    ];
    let mut i = 0;
    while body.len() < size {
        if i > 0 {
            body.push('+');
        }
        body.push_str(words[i % words.len()]);
        i += 1;
    }
    // Trim back to the size on a whole word boundary, then pad with a letter.
    while body.len() > size {
        body.pop();
    }
    while body.ends_with(['%', '+']) || body.ends_with("%2") {
        body.pop();
    }
    body.extend(std::iter::repeat_n('a', size - body.len()));
    assert_eq!(body.len(), size, "the form body is exactly {size} bytes");
    body.into_bytes()
}

fn header_map(pairs: &[(String, String)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            HeaderValue::from_str(value).expect("a header value"),
        );
    }
    headers
}

/// The request `provider` would send with a body of `size` bytes, signed at [`NOW`].
fn signed(provider: Provider, size: usize) -> Signed {
    let mut options = SchemeOptions::default();
    let body = match provider {
        Provider::Twilio => form_body(size),
        _ => json_body(size),
    };
    let secret = match provider {
        Provider::StandardWebhooks | Provider::Stripe => Secret::new(WHSEC),
        _ => Secret::new(TEXT_SECRET),
    };
    match provider {
        Provider::Twilio | Provider::Square => options.public_url = Some(PUBLIC_URL.to_owned()),
        Provider::GenericHmac => {
            options.generic = Some(GenericHmac {
                algorithm: HmacAlgorithm::Sha256,
                encoding: DigestEncoding::Hex,
                header: "x-acme-signature".to_owned(),
                prefix: Some("sha256=".to_owned()),
                timestamp_header: Some("x-acme-timestamp".to_owned()),
                template: Some("{timestamp}.{body}".to_owned()),
                event_type_header: None,
                delivery_id_header: None,
            });
        }
        Provider::Sendgrid => return sendgrid(body),
        Provider::Discord => return discord(body),
        _ => {}
    }
    let pairs = provider
        .sign(&secret, &body, NOW, &options)
        .unwrap_or_else(|e| panic!("{provider} signs: {e}"));
    Signed {
        secrets: vec![secret],
        options,
        headers: header_map(&pairs),
        body,
    }
}

/// The bench's P-256 key: SendGrid's scheme and its `raw-p256` floor sign with the same one.
fn p256_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).expect("a valid scalar")
}

/// The bench's Ed25519 key: Discord's scheme and its `raw-ed25519` floor sign with the same one.
fn ed25519_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[9u8; 32])
}

/// SendGrid: ECDSA P-256 with SHA-256 over `{timestamp}{body}`, a base64 DER signature, and the
/// verification key as base64 SubjectPublicKeyInfo.
fn sendgrid(body: Vec<u8>) -> Signed {
    let key = p256_key();
    let mut spki = hex::decode(P256_SPKI_PREFIX).expect("hex");
    spki.extend_from_slice(key.verifying_key().to_encoded_point(false).as_bytes());
    let digest = Sha256::new()
        .chain_update(NOW.to_string().as_bytes())
        .chain_update(&body);
    let signature: p256::ecdsa::Signature = key.sign_digest(digest);
    Signed {
        secrets: vec![Secret::new(BASE64.encode(spki))],
        options: SchemeOptions::default(),
        headers: header_map(&[
            (
                "x-twilio-email-event-webhook-signature".to_owned(),
                BASE64.encode(signature.to_der().as_bytes()),
            ),
            (
                "x-twilio-email-event-webhook-timestamp".to_owned(),
                NOW.to_string(),
            ),
        ]),
        body,
    }
}

/// Discord: Ed25519 over `{timestamp}{body}`, a hex signature, and the public key in hex.
fn discord(body: Vec<u8>) -> Signed {
    let key = ed25519_key();
    let mut message = NOW.to_string().into_bytes();
    message.extend_from_slice(&body);
    let signature = ed25519_dalek::Signer::sign(&key, &message);
    Signed {
        secrets: vec![Secret::new(hex::encode(key.verifying_key().as_bytes()))],
        options: SchemeOptions::default(),
        headers: header_map(&[
            (
                "x-signature-ed25519".to_owned(),
                hex::encode(signature.to_bytes()),
            ),
            ("x-signature-timestamp".to_owned(), NOW.to_string()),
        ]),
        body,
    }
}

/// The floor: one HMAC-SHA256 over the body, keyed with the same secret, as a scheme that signs
/// nothing but the body must at least compute.
fn raw_hmac_sha256(key: &[u8], body: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn raw_hmac_sha1(key: &[u8], body: &[u8]) -> [u8; 20] {
    let mut mac =
        <Hmac<sha1::Sha1> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The asymmetric schemes' floors: a bare verify of the message each scheme verifies
/// (`{timestamp}{body}`), with a key and signature already decoded. `raw-ed25519` is
/// ed25519-dalek's `verify_strict` of the message in one piece (what Discord's scheme calls);
/// `raw-p256` is the p256 crate's ECDSA verify of its SHA-256, hashed as SendGrid's scheme
/// hashes it (timestamp and body streamed into one digest).
fn raw_asymmetric(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    label: &str,
    body: &[u8],
) {
    let timestamp = NOW.to_string();

    let ed25519 = ed25519_key();
    let mut message = timestamp.clone().into_bytes();
    message.extend_from_slice(body);
    let signature = ed25519_dalek::Signer::sign(&ed25519, &message);
    let public = ed25519.verifying_key();
    public
        .verify_strict(&message, &signature)
        .expect("the bench's Ed25519 signature verifies");
    group.bench_function(BenchmarkId::new("raw-ed25519", label), |b| {
        b.iter(|| public.verify_strict(black_box(&message), black_box(&signature)))
    });

    let p256 = p256_key();
    let digest = || {
        Sha256::new()
            .chain_update(timestamp.as_bytes())
            .chain_update(black_box(body))
    };
    let signature: p256::ecdsa::Signature = p256.sign_digest(digest());
    let public = *p256.verifying_key();
    public
        .verify_digest(digest(), &signature)
        .expect("the bench's P-256 signature verifies");
    group.bench_function(BenchmarkId::new("raw-p256", label), |b| {
        b.iter(|| public.verify_digest(digest(), black_box(&signature)))
    });
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for (label, size) in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        // The longest runs (1 MiB asymmetric schemes) stay within the measurement time with
        // fewer samples; 1 KiB keeps criterion's default.
        group.sample_size(if size >= 1024 * 1024 { 30 } else { 100 });

        let body = json_body(size);
        group.bench_with_input(
            BenchmarkId::new("raw-hmac-sha256", label),
            &body,
            |b, body| b.iter(|| raw_hmac_sha256(black_box(TEXT_SECRET.as_bytes()), body)),
        );
        group.bench_with_input(
            BenchmarkId::new("raw-hmac-sha1", label),
            &body,
            |b, body| b.iter(|| raw_hmac_sha1(black_box(TEXT_SECRET.as_bytes()), body)),
        );
        group.bench_with_input(BenchmarkId::new("raw-sha512", label), &body, |b, body| {
            b.iter(|| Sha512::digest(black_box(body.as_slice())))
        });
        raw_asymmetric(&mut group, label, &body);

        for &provider in Provider::ALL {
            let request = signed(provider, size);
            let check = request.check(provider);
            let inbound = request.inbound();
            // A benchmark of a refusal would measure the wrong path.
            if let Err(e) = provider.verify(&check, &inbound) {
                panic!("{provider} at {label}: the signed request does not verify: {e}");
            }
            group.bench_function(BenchmarkId::new(provider.name(), label), |b| {
                b.iter(|| provider.verify(black_box(&check), black_box(&inbound)))
            });
        }
    }
    group.finish();
}

fn config() -> Criterion {
    // Defaults for a bare `cargo bench`; `make bench` passes shorter times on the command line.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = verify
}
criterion_main!(benches);
