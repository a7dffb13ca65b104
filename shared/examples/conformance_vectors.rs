//! Writes the published conformance vectors, `docs/conformance/vectors.json`, to stdout:
//!
//! ```sh
//! cargo run -q -p hookpost-shared --example conformance_vectors > docs/conformance/vectors.json
//! ```
//!
//! The committed file is what the test suite reads (`shared/tests/conformance_vectors.rs`); this
//! program only saves writing the derived refusals by hand. Each known-answer vector below is
//! copied from the scheme's module with its source. Every derived vector states the outcome the
//! rule that made it expects (a tampered body is an invalid signature, a stale timestamp is out of
//! tolerance, …); nothing here runs the verifier, so the test checks the verifier against the
//! rules and not against itself.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::Signer as _;
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::{
    DigestEncoding, GenericHmac, HmacAlgorithm, Provider, SchemeOptions, discord, github, gitlab,
    intercom, linear, sendgrid, shopify, slack, square, stripe, twilio, twitch, zoom,
};
use serde::Serialize;

/// One request and what a verifier must make of it.
#[derive(Clone)]
struct Vector {
    id: String,
    scheme: Provider,
    description: String,
    source: Option<&'static str>,
    note: Option<&'static str>,
    derived_from: Option<String>,
    /// `None` to accept, else the reason code.
    refuse: Option<&'static str>,
    secrets: Vec<String>,
    options: SchemeOptions,
    now: i64,
    tolerance: u64,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Vector {
    fn official(scheme: Provider, name: &str, description: &str, source: &'static str) -> Self {
        Vector {
            id: format!("{scheme}/{name}"),
            scheme,
            description: description.to_owned(),
            source: Some(source),
            note: None,
            derived_from: None,
            refuse: None,
            secrets: Vec::new(),
            options: SchemeOptions::default(),
            now: 0,
            tolerance: scheme.default_tolerance().as_secs(),
            query: None,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn note(mut self, note: &'static str) -> Self {
        self.note = Some(note);
        self
    }

    fn secrets(mut self, secrets: &[&str]) -> Self {
        self.secrets = secrets.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    fn public_url(mut self, url: &str) -> Self {
        self.options.public_url = Some(url.to_owned());
        self
    }

    fn at(mut self, now: i64) -> Self {
        self.now = now;
        self
    }

    fn query(mut self, query: &str) -> Self {
        self.query = Some(query.to_owned());
        self
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    /// A vector made from this one by `change`.
    fn derive(
        &self,
        name: &str,
        description: &str,
        refuse: Option<&'static str>,
        change: impl FnOnce(&mut Vector),
    ) -> Vector {
        let mut derived = Vector {
            id: format!("{}/{name}", self.id),
            description: description.to_owned(),
            source: None,
            note: None,
            derived_from: Some(self.id.clone()),
            refuse,
            ..self.clone()
        };
        change(&mut derived);
        derived
    }

    fn without_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| n != name);
    }

    fn set_header(&mut self, name: &str, value: &str) {
        for (n, v) in &mut self.headers {
            if n == name {
                *v = value.to_owned();
            }
        }
    }

    fn header_value(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{}: no {name} header", self.id))
    }

    fn out(&self) -> Out<'_> {
        let text = std::str::from_utf8(&self.body).ok();
        Out {
            id: &self.id,
            scheme: self.scheme.name(),
            description: &self.description,
            source: self.source,
            note: self.note,
            derived_from: self.derived_from.as_deref(),
            expect: if self.refuse.is_some() {
                "refuse"
            } else {
                "accept"
            },
            reason: self.refuse,
            secrets: &self.secrets,
            options: &self.options,
            now: self.now,
            tolerance: self.tolerance,
            request: OutRequest {
                query: self.query.as_deref(),
                headers: self
                    .headers
                    .iter()
                    .map(|(n, v)| [n.as_str(), v.as_str()])
                    .collect(),
                body: text,
                body_base64: text.is_none().then(|| BASE64.encode(&self.body)),
            },
        }
    }
}

/// The file: its format, what it is, the vectors.
#[derive(Serialize)]
struct FileOut<'a> {
    format: &'static str,
    about: &'static str,
    vectors: Vec<Out<'a>>,
}

/// A vector as the file holds it, fields in the order the README lists them.
#[derive(Serialize)]
struct Out<'a> {
    id: &'a str,
    scheme: &'static str,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    derived_from: Option<&'a str>,
    expect: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    secrets: &'a [String],
    options: &'a SchemeOptions,
    now: i64,
    tolerance: u64,
    request: OutRequest<'a>,
}

#[derive(Serialize)]
struct OutRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a str>,
    headers: Vec<[&'a str; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

/// How a scheme's requests are built, for the derived refusals.
struct Shape {
    /// The header a signature is in.
    signature: &'static str,
    /// A value of the signature header that is no signature at all.
    garbage: &'static str,
    /// The header a signed timestamp is in, where the scheme has one.
    timestamp: Option<&'static str>,
    /// The unix time the base vector was signed at, for timestamped schemes.
    signed_at: Option<i64>,
    /// Whether the signature covers the body (GitLab's token does not).
    body_signed: bool,
    /// A secret of the right form that signed none of the vectors.
    other_secret: &'static str,
}

/// Another printable character in place of the first letter or digit after the middle of
/// `body`, so the body stays the text it was.
fn tamper(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    let at = (body.len() / 2..body.len())
        .chain(0..body.len() / 2)
        .find(|&i| body[i].is_ascii_alphanumeric())
        .expect("a letter or digit");
    out[at] = match out[at] {
        b'9' => b'0',
        b'z' => b'a',
        b'Z' => b'A',
        c => c + 1,
    };
    out
}

/// The refusals every scheme is checked with, made from its `base` vector.
fn derived(base: &Vector, shape: &Shape) -> Vec<Vector> {
    let mut out = vec![
        base.derive(
            "rotation",
            "The right secret second among two active ones, as during a rotation.",
            None,
            |v| v.secrets.insert(0, shape.other_secret.to_owned()),
        ),
        base.derive(
            "wrong-secret",
            "Checked with a secret that did not sign it.",
            Some("invalid_signature"),
            |v| v.secrets = vec![shape.other_secret.to_owned()],
        ),
        base.derive(
            "no-secret",
            "A source with no secret verifies nothing.",
            Some("source_misconfigured"),
            |v| v.secrets.clear(),
        ),
        base.derive(
            "signature-missing",
            "Without the signature header.",
            Some("missing_signature"),
            |v| v.without_header(shape.signature),
        ),
        base.derive(
            "signature-repeated",
            "The signature header twice, the second copy the same: a repeated signature header \
             is refused, so that no two readers can take different copies.",
            Some("invalid_signature"),
            |v| {
                let value = v.header_value(shape.signature);
                v.headers.push((shape.signature.to_owned(), value));
            },
        ),
        base.derive(
            "signature-malformed",
            "A signature header that holds no signature in the scheme's format.",
            Some("invalid_signature"),
            |v| v.set_header(shape.signature, shape.garbage),
        ),
    ];
    if shape.body_signed {
        out.push(base.derive(
            "tampered-body",
            "One character of the body changed.",
            Some("invalid_signature"),
            |v| v.body = tamper(&v.body),
        ));
    }
    if let Some(signed_at) = shape.signed_at {
        let tolerance = i64::try_from(base.tolerance).expect("small");
        out.push(base.derive(
            "at-the-tolerance",
            "Checked exactly `tolerance` seconds after it was signed.",
            None,
            |v| v.now = signed_at + tolerance,
        ));
        out.push(base.derive(
            "stale",
            "Checked one second more than `tolerance` after it was signed (a replay).",
            Some("timestamp_out_of_tolerance"),
            |v| v.now = signed_at + tolerance + 1,
        ));
        out.push(base.derive(
            "from-the-future",
            "Checked one second more than `tolerance` before it was signed.",
            Some("timestamp_out_of_tolerance"),
            |v| v.now = signed_at - tolerance - 1,
        ));
    }
    if let Some(timestamp) = shape.timestamp {
        out.push(base.derive(
            "timestamp-missing",
            "Without the timestamp header.",
            Some("missing_signature"),
            |v| v.without_header(timestamp),
        ));
    }
    out
}

const GITHUB_DOCS: &str = "https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation";
const STRIPE_SDK: &str = "https://github.com/stripe/stripe-python/blob/HEAD/tests/test_webhook.py";
const SLACK_DOCS: &str = "https://api.slack.com/authentication/verifying-requests-from-slack";
const SHOPIFY_DOCS: &str = "https://shopify.dev/docs/apps/build/webhooks/subscribe/https";
const STANDARD_WEBHOOKS_SPEC: &str =
    "https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md";
const TWILIO_PYTHON: &str =
    "https://github.com/twilio/twilio-python/blob/HEAD/tests/unit/test_request_validator.py";
const TWILIO_NODE: &str = "https://github.com/twilio/twilio-node/blob/HEAD/spec/validation.spec.js";
const TWITCH_DOCS: &str = "https://dev.twitch.tv/docs/eventsub/handling-webhook-events/";
const ZOOM_DOCS: &str = "https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events";
const SQUARE_SDK: &str =
    "https://github.com/square/square-python-sdk/blob/HEAD/tests/utilities/test_webhooks_helper.py";
const LINEAR_DOCS: &str = "https://linear.app/developers/webhooks";
const INTERCOM_DOCS: &str = "https://developers.intercom.com/docs/webhooks";
const GITLAB_DOCS: &str = "https://docs.gitlab.com/user/project/integrations/webhooks/";
const SENDGRID_PYTHON: &str =
    "https://github.com/sendgrid/sendgrid-python/blob/HEAD/test/unit/test_eventwebhook.py";
const SENDGRID_NODE: &str = "https://github.com/sendgrid/sendgrid-nodejs/blob/HEAD/packages/eventwebhook/src/eventwebhook.spec.js";
const DISCORD_DOCS: &str = "https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers";
const INDEPENDENT: &str = "The provider publishes no signed example; the signature was computed \
                           independently with Python's hmac module.";

fn github() -> Vec<Vector> {
    let base = Vector::official(
        Provider::Github,
        "docs-example",
        "GitHub's published example payload and secret.",
        GITHUB_DOCS,
    )
    .secrets(&["It's a Secret to Everybody"])
    .header(
        github::SIGNATURE_HEADER,
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    )
    .body(b"Hello, World!");
    let mut sha1 = Vector::official(
        Provider::Github,
        "legacy-sha1",
        "The legacy X-Hub-Signature (HMAC-SHA1) over GitHub's example, for a source that allows \
         it and with no SHA-256 header sent.",
        GITHUB_DOCS,
    )
    .note(INDEPENDENT)
    .secrets(&["It's a Secret to Everybody"])
    .header(
        github::SHA1_HEADER,
        "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59",
    )
    .body(b"Hello, World!");
    sha1.options.allow_sha1 = true;
    let mut out = derived(
        &base,
        &Shape {
            signature: github::SIGNATURE_HEADER,
            garbage: "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            timestamp: None,
            signed_at: None,
            body_signed: true,
            other_secret: "It's a Secret to Nobody",
        },
    );
    out.push(base.derive(
        "non-utf8-body",
        "A byte of the body flipped so that it is no longer UTF-8 (the body is given in base64).",
        Some("invalid_signature"),
        |v| v.body[4] ^= 0x80,
    ));
    out.push(sha1.derive(
        "not-allowed",
        "The legacy SHA-1 header alone, for a source that does not allow SHA-1.",
        Some("missing_signature"),
        |v| v.options.allow_sha1 = false,
    ));
    out.insert(0, base);
    out.push(sha1);
    out
}

fn stripe() -> Vec<Vector> {
    let body = "{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\",\n  \"data\": { \"object\": { \"id\": \"rdr_123\", \"object\": \"terminal.reader\" } }\n}";
    let v1 = "3bfab77baf5f7b6991a46c9b53b6547d7afc56148b10468fcad9f35c1992ffbd";
    let base = Vector::official(
        Provider::Stripe,
        "sdk-payload",
        "stripe-python's test payload and secret (DUMMY_WEBHOOK_PAYLOAD, DUMMY_WEBHOOK_SECRET), \
         signed at t = 1700000000.",
        STRIPE_SDK,
    )
    .note(
        "Stripe publishes no fixed signature: this one was computed with stripe-python 16.1.0 \
         (accepted by its verify_header) and, independently, with Python's hmac module.",
    )
    .secrets(&["whsec_test_secret"])
    .at(1_700_000_000)
    .header(stripe::SIGNATURE_HEADER, &format!("t=1700000000,v1={v1}"))
    .body(body.as_bytes());
    let mut out = derived(
        &base,
        &Shape {
            signature: stripe::SIGNATURE_HEADER,
            garbage: "bad_header",
            timestamp: None,
            signed_at: Some(1_700_000_000),
            body_signed: true,
            other_secret: "whsec_another_secret",
        },
    );
    out.push(base.derive(
        "several-v1",
        "Several v1 signatures, one of them right, as Stripe sends while a secret is rolled \
         (and stripe-python's `v1=bad_signature`); v0 is ignored.",
        None,
        |v| {
            v.set_header(
                stripe::SIGNATURE_HEADER,
                &format!(
                    "t=1700000000,v1={},v1=bad_signature,v1={v1},v0={}",
                    "0".repeat(64),
                    "1".repeat(64)
                ),
            )
        },
    ));
    out.push(base.derive(
        "v0-only",
        "Only a v0 signature, even one with the right digest: v0 is not checked.",
        Some("invalid_signature"),
        |v| v.set_header(stripe::SIGNATURE_HEADER, &format!("t=1700000000,v0={v1}")),
    ));
    out.push(base.derive(
        "whsec-prefix-dropped",
        "The secret without its `whsec_` prefix: Stripe keys with the whole text.",
        Some("invalid_signature"),
        |v| v.secrets = vec!["test_secret".to_owned()],
    ));
    out.push(base.derive(
        "other-timestamp",
        "The same v1 under another `t`: the timestamp is signed.",
        Some("invalid_signature"),
        |v| v.set_header(stripe::SIGNATURE_HEADER, &format!("t=1700000001,v1={v1}")),
    ));
    out.insert(0, base);
    out
}

const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SLACK_SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

fn slack() -> Vec<Vector> {
    let base = Vector::official(
        Provider::Slack,
        "docs-example",
        "The worked example of Slack's guide: a slash command body.",
        SLACK_DOCS,
    )
    .secrets(&["8f742231b10e8888abcd99yyyzzz85a5"])
    .at(1_531_420_618)
    .header(slack::SIGNATURE_HEADER, SLACK_SIGNATURE)
    .header(slack::TIMESTAMP_HEADER, "1531420618")
    .header("content-type", "application/x-www-form-urlencoded")
    .body(SLACK_BODY.as_bytes());
    let mut out = derived(
        &base,
        &Shape {
            signature: slack::SIGNATURE_HEADER,
            garbage: "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            timestamp: Some(slack::TIMESTAMP_HEADER),
            signed_at: Some(1_531_420_618),
            body_signed: true,
            other_secret: "9f742231b10e8888abcd99yyyzzz85a5",
        },
    );
    out.push(base.derive(
        "other-timestamp",
        "The same signature under another timestamp: the timestamp is signed.",
        Some("invalid_signature"),
        |v| v.set_header(slack::TIMESTAMP_HEADER, "1531420619"),
    ));
    out.insert(0, base);
    out
}

fn shopify() -> Vec<Vector> {
    let base = Vector::official(
        Provider::Shopify,
        "independent",
        "An order payload signed as Shopify signs: base64 HMAC-SHA256 of the body.",
        SHOPIFY_DOCS,
    )
    .note(INDEPENDENT)
    .secrets(&["hush"])
    .header(
        shopify::SIGNATURE_HEADER,
        "19sb4TQ53/TxxyK6YcMtX+aMrJyVgshiuMO90SUSl08=",
    )
    .header(shopify::TOPIC_HEADER, "orders/create")
    .body(br#"{"id":820982911946154508,"email":"jon@example.com","total_price":"199.00"}"#);
    let mut out = derived(
        &base,
        &Shape {
            signature: shopify::SIGNATURE_HEADER,
            garbage: "c5f80de2ee6d15840b6995092819a7f9ef649789",
            timestamp: None,
            signed_at: None,
            body_signed: true,
            other_secret: "hush!",
        },
    );
    out.insert(0, base);
    out
}

fn standard_webhooks() -> Vec<Vector> {
    let base = Vector::official(
        Provider::StandardWebhooks,
        "docs-example",
        "The example of the Standard Webhooks specification and Svix's \"verifying manually\" \
         guide.",
        STANDARD_WEBHOOKS_SPEC,
    )
    .secrets(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
    .at(1_614_265_330)
    .header("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
    .header("webhook-timestamp", "1614265330")
    .header(
        "webhook-signature",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    )
    .body(br#"{"test": 2432232314}"#);
    let mut out = derived(
        &base,
        &Shape {
            signature: "webhook-signature",
            garbage: "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            timestamp: Some("webhook-timestamp"),
            signed_at: Some(1_614_265_330),
            body_signed: true,
            other_secret: "whsec_b2xkLXNlY3JldC1iZWluZy1yb3RhdGVkLW91dA==",
        },
    );
    out.push(base.derive(
        "svix-headers",
        "The same request with Svix's header names.",
        None,
        |v| {
            for (name, _) in &mut v.headers {
                *name = name.replace("webhook-", "svix-");
            }
        },
    ));
    out.push(base.derive(
        "several-signatures",
        "Several space-separated signatures, one right and one of another version, as during a \
         key rotation.",
        None,
        |v| {
            v.set_header(
                "webhook-signature",
                &format!(
                    "v1a,AAAA v1,{} v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                    BASE64.encode([0u8; 32])
                ),
            )
        },
    ));
    out.push(base.derive(
        "other-id",
        "The same signature under another message id: the id is signed.",
        Some("invalid_signature"),
        |v| v.set_header("webhook-id", "msg_other"),
    ));
    out.push(base.derive(
        "id-missing",
        "Without the webhook-id header.",
        Some("missing_signature"),
        |v| v.without_header("webhook-id"),
    ));
    out.insert(0, base);
    out
}

const TWILIO_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const TWILIO_FORM: &str = "CallSid=CA1234567890ABCDE&Digits=1234&From=%2B14158675309&To=%2B18005551212&Caller=%2B14158675309";
const FORM: &str = "application/x-www-form-urlencoded";

fn twilio_form(
    name: &str,
    description: &str,
    source: &'static str,
    url: &str,
    sig: &str,
) -> Vector {
    Vector::official(Provider::Twilio, name, description, source)
        .secrets(&["12345"])
        .public_url(url)
        .header(twilio::SIGNATURE_HEADER, sig)
        .header("content-type", FORM)
        .body(TWILIO_FORM.as_bytes())
}

fn twilio_json(name: &str, description: &str, query: &str, sig: &str, body: &str) -> Vector {
    Vector::official(Provider::Twilio, name, description, TWILIO_NODE)
        .secrets(&["12345"])
        .public_url("https://mycompany.com/myapp.php")
        .query(query)
        .header(twilio::SIGNATURE_HEADER, sig)
        .header("content-type", "application/json")
        .body(body.as_bytes())
}

fn twilio() -> Vec<Vector> {
    let base = twilio_form(
        "sdk-form",
        "The SDKs' shared request: a form body posted to a URL with a query string.",
        TWILIO_PYTHON,
        TWILIO_URL,
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
    );
    let mut out = vec![base.clone()];
    for (name, description, source, url, sig) in [
        (
            "sdk-adds-port-443",
            "Signed over the URL with :443 added; the source's URL has no port.",
            TWILIO_PYTHON,
            TWILIO_URL,
            "kvajT1Ptam85bY51eRf/AJRuM3w=",
        ),
        (
            "sdk-adds-port-80",
            "An http URL, signed over it with :80 added.",
            TWILIO_PYTHON,
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            "0ZXoZLH/DfblKGATFgpif+LLRf4=",
        ),
        (
            "sdk-removes-port-443",
            "The source's URL has :443; signed over it without the port.",
            TWILIO_PYTHON,
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
        ),
        (
            "sdk-keeps-port-443",
            "The source's URL has :443; signed over it as it is.",
            TWILIO_PYTHON,
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            "kvajT1Ptam85bY51eRf/AJRuM3w=",
        ),
        (
            "sdk-removes-port-1234-on-https",
            "The source's URL has a port other than the standard one; the SDKs also accept a \
             signature over the URL without it.",
            TWILIO_PYTHON,
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
        ),
        (
            "sdk-keeps-port-1234-on-http",
            "An http URL with port 1234, signed over it as it is.",
            TWILIO_PYTHON,
            "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
        ),
        (
            "sdk-credentials",
            "A URL with credentials, signed over it as it is.",
            TWILIO_NODE,
            "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2",
            "CukzLTc1tT5dXEDIHm/tKBanW10=",
        ),
        (
            "sdk-credentials-adds-port",
            "A URL with credentials, signed over it with :443 added.",
            TWILIO_NODE,
            "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2",
            "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI=",
        ),
        (
            "sdk-special-characters",
            "A URL with a quote in its query, percent-encoded as twilio-node's test writes it \
             (twilio-node re-encodes a URL before signing; the URL here is already in that form).",
            TWILIO_NODE,
            "https://mycompany.com/myapp.php?foo=1&bar=2&Body=It%27s+amazing",
            "TfZzewPq8wqrGlMfyAud8+/IvJ0=",
        ),
    ] {
        out.push(twilio_form(name, description, source, url, sig));
    }
    out.push(
        Vector::official(
            Provider::Twilio,
            "sdk-repeated-parameters",
            "Repeated parameters, sorted by value, an exact repeat counted once.",
            TWILIO_PYTHON,
        )
        .secrets(&["12345"])
        .public_url(TWILIO_URL)
        .header(twilio::SIGNATURE_HEADER, "IK+Dwps556ElfBT0I3Rgjkr1wJU=")
        .header("content-type", FORM)
        .body(b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234"),
    );
    out.push(
        Vector::official(
            Provider::Twilio,
            "sdk-array-parameter",
            "One parameter with two values, in either order.",
            TWILIO_NODE,
        )
        .secrets(&["12345"])
        .public_url(TWILIO_URL)
        .header(twilio::SIGNATURE_HEADER, "83O6e2vORAoJHUNzJjDWN1jz+BA=")
        .header("content-type", FORM)
        .body(b"MessagingBinding.Address=%2B1415xxxxxxx&MessagingBinding.Address=%2B1325xxxxxxx"),
    );
    let json_hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    let json = twilio_json(
        "sdk-json-body",
        "A JSON body: Twilio puts its SHA-256 in the query string as bodySHA256 and signs the \
         URL alone.",
        &format!("foo=1&bar=2&bodySHA256={json_hash}"),
        "a9nBmqA0ju/hNViExpshrM61xv4=",
        r#"{"property": "value", "boolean": true}"#,
    );
    out.push(json.clone());
    out.push(twilio_json(
        "sdk-json-empty-object",
        "The JSON body {} with its bodySHA256.",
        "foo=1&bar=2&bodySHA256=44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        "Ldidvp12m26NI7eqEvxnEpkd9Hc=",
        "{}",
    ));
    out.push(twilio_json(
        "sdk-json-only-body-sha256",
        "A JSON body whose URL has no query string but bodySHA256.",
        &format!("bodySHA256={json_hash}"),
        "y77kIzt2vzLz71DgmJGsen2scGs=",
        r#"{"property": "value", "boolean": true}"#,
    ));
    out.extend(derived(
        &base,
        &Shape {
            signature: twilio::SIGNATURE_HEADER,
            garbage: "RSOYDt4T1cUTdK1PDd93/VVr8B8",
            timestamp: None,
            signed_at: None,
            body_signed: true,
            other_secret: "54321",
        },
    ));
    out.push(base.derive(
        "no-public-url",
        "A source without the public URL Twilio signs cannot verify.",
        Some("source_misconfigured"),
        |v| v.options.public_url = None,
    ));
    out.push(base.derive(
        "other-port",
        "The source's URL has port 1234; a signature over the URL with :443 is neither of the \
         two forms the SDKs accept.",
        Some("invalid_signature"),
        |v| {
            v.options.public_url =
                Some("https://mycompany.com:1234/myapp.php?foo=1&bar=2".to_owned());
            v.set_header(twilio::SIGNATURE_HEADER, "kvajT1Ptam85bY51eRf/AJRuM3w=");
        },
    ));
    out.push(base.derive(
        "other-scheme",
        "Signed over the http form of an https URL.",
        Some("invalid_signature"),
        |v| v.set_header(twilio::SIGNATURE_HEADER, "0ZXoZLH/DfblKGATFgpif+LLRf4="),
    ));
    out.push(base.derive(
        "query-from-the-request",
        "The source's URL has no query string; the request's own query is signed with it.",
        None,
        |v| {
            v.options.public_url = Some("https://mycompany.com/myapp.php".to_owned());
            v.query = Some("foo=1&bar=2".to_owned());
        },
    ));
    out.push(json.derive(
        "tampered-body",
        "One character of the JSON body changed: its SHA-256 is no longer bodySHA256.",
        Some("invalid_signature"),
        |v| v.body = tamper(&v.body),
    ));
    out.push(json.derive(
        "no-body-sha256",
        "A JSON body without bodySHA256 in the query string is signed by nothing.",
        Some("malformed_request"),
        |v| v.query = Some("foo=1&bar=2".to_owned()),
    ));
    out.push(json.derive(
        "uppercase-body-sha256",
        "bodySHA256 in uppercase hex: the SDKs compare it with the lowercase digest as text.",
        Some("malformed_request"),
        |v| {
            v.query = Some(format!(
                "foo=1&bar=2&bodySHA256={}",
                json_hash.to_uppercase()
            ))
        },
    ));
    out
}

fn twitch() -> Vec<Vector> {
    let body = r#"{"subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","type":"channel.follow","version":"2","status":"enabled"},"event":{"user_id":"1337","broadcaster_user_id":"1337"}}"#;
    let base = Vector::official(
        Provider::Twitch,
        "independent",
        "A notification with the message id and timestamp of Twitch's example requests.",
        TWITCH_DOCS,
    )
    .note(INDEPENDENT)
    .secrets(&["hookpost-twitch-secret"])
    .at(1_573_899_072)
    .header(
        twitch::MESSAGE_ID_HEADER,
        "e76c6bd4-55c9-4987-8304-da1588d8988b",
    )
    .header(twitch::TIMESTAMP_HEADER, "2019-11-16T10:11:12.634234626Z")
    .header(
        twitch::SIGNATURE_HEADER,
        "sha256=2ce0db1d1e83d9950c6f2befca758d350edbded155a52b4703767cd7845cd3f0",
    )
    .header(twitch::MESSAGE_TYPE_HEADER, "notification")
    .header(twitch::SUBSCRIPTION_TYPE_HEADER, "channel.follow")
    .body(body.as_bytes());
    let mut out = derived(
        &base,
        &Shape {
            signature: twitch::SIGNATURE_HEADER,
            garbage: "2ce0db1d1e83d9950c6f2befca758d350edbded155a52b4703767cd7845cd3f0",
            timestamp: Some(twitch::TIMESTAMP_HEADER),
            signed_at: Some(1_573_899_072),
            body_signed: true,
            other_secret: "another-secret",
        },
    );
    out.push(base.derive(
        "other-timestamp-text",
        "The same instant written with another nanosecond: the timestamp's text is signed.",
        Some("invalid_signature"),
        |v| v.set_header(twitch::TIMESTAMP_HEADER, "2019-11-16T10:11:12.634234627Z"),
    ));
    out.insert(0, base);
    out
}

fn zoom() -> Vec<Vector> {
    let base = Vector::official(
        Provider::Zoom,
        "independent",
        "A meeting.started event signed as Zoom signs: v0:{timestamp}:{body}.",
        ZOOM_DOCS,
    )
    .note(INDEPENDENT)
    .secrets(&["hookpost-zoom-secret-token"])
    .at(1_658_940_994)
    .header(zoom::TIMESTAMP_HEADER, "1658940994")
    .header(
        zoom::SIGNATURE_HEADER,
        "v0=381799d60db44585ddd1ac9ade223491f3bfc23b936332953a90cae28fa6a4fa",
    )
    .body(br#"{"event":"meeting.started","payload":{"account_id":"AAAAAA","object":{"id":"85746065432"}},"event_ts":1658940994000}"#);
    let mut out = derived(
        &base,
        &Shape {
            signature: zoom::SIGNATURE_HEADER,
            garbage: "v1=381799d60db44585ddd1ac9ade223491f3bfc23b936332953a90cae28fa6a4fa",
            timestamp: Some(zoom::TIMESTAMP_HEADER),
            signed_at: Some(1_658_940_994),
            body_signed: true,
            other_secret: "another-secret-token",
        },
    );
    out.insert(0, base);
    out
}

fn square() -> Vec<Vector> {
    let base = Vector::official(
        Provider::Square,
        "sdk-example",
        "Square's SDK test notification, signed over the notification URL and the body.",
        SQUARE_SDK,
    )
    .secrets(&["Ibxx_5AKakO-3qeNVR61Dw"])
    .public_url("https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9")
    .header(
        square::SIGNATURE_HEADER,
        "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=",
    )
    .body(br#"{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}"#);
    let escaped = Vector::official(
        Provider::Square,
        "sdk-escaped",
        "Square's SDK case of a body with `>` and `<`, signed as sent.",
        SQUARE_SDK,
    )
    .secrets(&["signature-key"])
    .public_url("https://webhook.site/webhooks")
    .header(
        square::SIGNATURE_HEADER,
        "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U=",
    )
    .body(br#"{"data":{"type":"webhooks","id":">id<"}}"#);
    let mut out = vec![base.clone(), escaped];
    out.extend(derived(
        &base,
        &Shape {
            signature: square::SIGNATURE_HEADER,
            garbage: "1z2n3DEJJiUPKcPzQo1ftvbxGdw=",
            timestamp: None,
            signed_at: None,
            body_signed: true,
            other_secret: "MCmhFRxGX82xMwg5FsaoQA",
        },
    ));
    out.push(base.derive(
        "other-url",
        "The SDK's negative case: a notification URL one character shorter.",
        Some("invalid_signature"),
        |v| {
            v.options.public_url =
                Some("https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9".to_owned())
        },
    ));
    out.push(base.derive(
        "no-public-url",
        "A source without the notification URL Square signs cannot verify.",
        Some("source_misconfigured"),
        |v| v.options.public_url = None,
    ));
    out
}

fn linear() -> Vec<Vector> {
    let base = Vector::official(
        Provider::Linear,
        "independent",
        "An Issue create event with its webhookTimestamp (milliseconds) in the body.",
        LINEAR_DOCS,
    )
    .note(INDEPENDENT)
    .secrets(&["lin_wh_example_signing_secret"])
    .at(1_676_056_940)
    .header(
        linear::SIGNATURE_HEADER,
        "cb19968f6c039ac31c599635d4d23b73ad13a8d277b755311c55f2d571c11d7c",
    )
    .body(br#"{"action":"create","actor":{"id":"2e6eea91-1111-0000-9486-acea0603064d","name":"Jane Doe","type":"user"},"createdAt":"2023-02-10T19:22:20.508Z","data":{"id":"2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9","title":"Webhook test","identifier":"ENG-1"},"url":"https://linear.app/acme/issue/ENG-1/webhook-test","type":"Issue","organizationId":"b5d8e2a4-0000-4b1e-9cde-123456789abc","webhookTimestamp":1676056940508,"webhookId":"000042e3-d123-4980-b49f-8e140eef9329"}"#);
    let mut out = derived(
        &base,
        &Shape {
            signature: linear::SIGNATURE_HEADER,
            garbage: "sha256=cb19968f6c039ac31c599635d4d23b73ad13a8d277b755311c55f2d571c11d7c",
            timestamp: None,
            signed_at: Some(1_676_056_940),
            body_signed: true,
            other_secret: "lin_wh_other",
        },
    );
    let untimed = br#"{"type":"Issue","action":"create"}"#;
    out.push(base.derive(
        "no-webhook-timestamp",
        "A correctly signed body without webhookTimestamp: it could be replayed for ever.",
        Some("malformed_request"),
        |v| {
            v.body = untimed.to_vec();
            v.set_header(
                linear::SIGNATURE_HEADER,
                &linear::sign(&Secret::new("lin_wh_example_signing_secret"), untimed),
            );
        },
    ));
    out.insert(0, base);
    out
}

fn intercom() -> Vec<Vector> {
    let base = Vector::official(
        Provider::Intercom,
        "independent",
        "Intercom's documented example notification (compacted), signed as Intercom signs.",
        INTERCOM_DOCS,
    )
    .note(INDEPENDENT)
    .secrets(&["intercom-client-secret"])
    .header(
        intercom::SIGNATURE_HEADER,
        "sha1=34bc24d89c2f51cc04017c19d3c10e54fb9cb163",
    )
    .body(br#"{"type":"notification_event","id":"notif_78c122d0-23ba-11e4-9464-79b01267cc2e","topic":"user.created","app_id":"a86dr8yl","data":{"type":"notification_event_data","item":{"type":"user","id":"530370b477ad7120001d","user_id":"25","name":"Hoban Washburne","unsubscribed_from_emails":false,"custom_attributes":{}}}}"#);
    let mut out = derived(
        &base,
        &Shape {
            signature: intercom::SIGNATURE_HEADER,
            garbage: "sha256=34bc24d89c2f51cc04017c19d3c10e54fb9cb163",
            timestamp: None,
            signed_at: None,
            body_signed: true,
            other_secret: "another-app-secret",
        },
    );
    out.insert(0, base);
    out
}

fn gitlab() -> Vec<Vector> {
    let base = Vector::official(
        Provider::Gitlab,
        "docs-token",
        "GitLab's example secret token, sent as it is.",
        GITLAB_DOCS,
    )
    .secrets(&["my-secret-token"])
    .header(gitlab::TOKEN_HEADER, "my-secret-token")
    .header(gitlab::EVENT_HEADER, "Push Hook")
    .body(br#"{"object_kind":"push","ref":"refs/heads/main","total_commits_count":1}"#);
    let mut out = derived(
        &base,
        &Shape {
            signature: gitlab::TOKEN_HEADER,
            garbage: "my-secret-tokeN",
            timestamp: None,
            signed_at: None,
            body_signed: false,
            other_secret: "another-token",
        },
    );
    out.push(base.derive(
        "body-not-covered",
        "The token covers no byte of the body: a changed body with the right token is accepted \
         (TLS is what keeps a GitLab delivery intact).",
        None,
        |v| v.body = tamper(&v.body),
    ));
    out.push(base.derive(
        "longer-token",
        "The token with more after it.",
        Some("invalid_signature"),
        |v| v.set_header(gitlab::TOKEN_HEADER, "my-secret-token-and-more"),
    ));
    out.insert(0, base);
    out
}

const SENDGRID_NODE_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==";

fn sendgrid() -> Vec<Vector> {
    let node = Vector::official(
        Provider::Sendgrid,
        "sdk-node",
        "sendgrid-nodejs's test event (also in sendgrid-python's older tests).",
        SENDGRID_NODE,
    )
    .secrets(&[SENDGRID_NODE_KEY])
    .at(1_588_788_367)
    .header(sendgrid::TIMESTAMP_HEADER, "1588788367")
    .header(
        sendgrid::SIGNATURE_HEADER,
        "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=",
    )
    .body(br#"{"category":"example_payload","event":"test_event","message_id":"message_id"}"#);
    let python = Vector::official(
        Provider::Sendgrid,
        "sdk-python",
        "sendgrid-python's test event: a dropped event, sorted keys, no spaces, then CRLF.",
        SENDGRID_PYTHON,
    )
    .secrets(&["MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="])
    .at(1_600_112_502)
    .header(sendgrid::TIMESTAMP_HEADER, "1600112502")
    .header(
        sendgrid::SIGNATURE_HEADER,
        "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=",
    )
    .body(b"[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":\"Bounced Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\",\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\",\"timestamp\":1600112492}]\r\n");
    let mut out = vec![node.clone(), python.clone()];
    out.extend(derived(
        &node,
        &Shape {
            signature: sendgrid::SIGNATURE_HEADER,
            garbage: "%%%",
            timestamp: Some(sendgrid::TIMESTAMP_HEADER),
            signed_at: Some(1_588_788_367),
            body_signed: true,
            // The SDK's own wrong key.
            other_secret: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA==",
        },
    ));
    out.push(node.derive(
        "sdk-bad-signature",
        "The SDK's signature with one character off.",
        Some("invalid_signature"),
        |v| {
            v.set_header(
                sendgrid::SIGNATURE_HEADER,
                "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3j/0=",
            )
        },
    ));
    out.push(node.derive(
        "sdk-bad-payload",
        "The SDK's case of another body.",
        Some("invalid_signature"),
        |v| v.body = b"payload".to_vec(),
    ));
    out.push(node.derive(
        "sdk-bad-timestamp",
        "The SDK's case of a timestamp that is no number.",
        Some("invalid_signature"),
        |v| v.set_header(sendgrid::TIMESTAMP_HEADER, "timestamp"),
    ));
    out.push(node.derive(
        "pem-key",
        "The verification key in PEM armour.",
        None,
        |v| {
            v.secrets = vec![format!(
                "-----BEGIN PUBLIC KEY-----\n{SENDGRID_NODE_KEY}\n-----END PUBLIC KEY-----\n"
            )]
        },
    ));
    out.push(node.derive(
        "malformed-key",
        "A verification key that is no P-256 public key, beside the right one.",
        Some("source_misconfigured"),
        |v| {
            v.secrets
                .push("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE".to_owned())
        },
    ));
    out.push(python.derive(
        "without-crlf",
        "sendgrid-python's event without its trailing CRLF.",
        Some("invalid_signature"),
        |v| {
            v.body.truncate(v.body.len() - 2);
        },
    ));
    out
}

fn discord() -> Vec<Vector> {
    let key = ed25519_dalek::SigningKey::from_bytes(&[1u8; 32]);
    let public = hex::encode(key.verifying_key().as_bytes());
    let other = hex::encode(
        ed25519_dalek::SigningKey::from_bytes(&[2u8; 32])
            .verifying_key()
            .as_bytes(),
    );
    let body = br#"{"id":"1180000000000000000","application_id":"1170000000000000000","type":2,"data":{"id":"1","name":"ping","type":1},"token":"aW50ZXJhY3Rpb24","version":1}"#;
    let mut message = b"1700000000".to_vec();
    message.extend_from_slice(body);
    let signature = hex::encode(key.sign(&message).to_bytes());
    let base = Vector::official(
        Provider::Discord,
        "test-key",
        "An application command signed with Hookpost's test key pair (Ed25519 seed of 32 bytes \
         0x01; the secret is its public key).",
        DISCORD_DOCS,
    )
    .note(
        "Discord publishes no signed example, and only Discord holds its private key. Ed25519 is \
         deterministic (RFC 8032), so anyone can re-derive this signature from the seed.",
    )
    .secrets(&[&public])
    .at(1_700_000_000)
    .header(discord::SIGNATURE_HEADER, &signature)
    .header(discord::TIMESTAMP_HEADER, "1700000000")
    .body(body);
    let leaked: &'static str = Box::leak(other.into_boxed_str());
    let mut out = derived(
        &base,
        &Shape {
            signature: discord::SIGNATURE_HEADER,
            garbage: "00",
            timestamp: Some(discord::TIMESTAMP_HEADER),
            signed_at: Some(1_700_000_000),
            body_signed: true,
            other_secret: leaked,
        },
    );
    out.push(base.derive(
        "malformed-key",
        "A public key that is not 64 hexadecimal digits, beside the right one.",
        Some("source_misconfigured"),
        |v| v.secrets.push("abcd".to_owned()),
    ));
    out.insert(0, base);
    out
}

fn generic_hmac() -> Vec<Vector> {
    let layout = |algorithm, encoding, header: &str| GenericHmac {
        algorithm,
        encoding,
        header: header.to_owned(),
        prefix: None,
        timestamp_header: None,
        template: None,
        event_type_header: None,
        delivery_id_header: None,
    };
    let with = |v: Vector, layout: GenericHmac| Vector {
        options: SchemeOptions {
            generic: Some(layout),
            ..SchemeOptions::default()
        },
        ..v
    };
    let github_layout = GenericHmac {
        prefix: Some("sha256=".to_owned()),
        ..layout(
            HmacAlgorithm::Sha256,
            DigestEncoding::Hex,
            "X-Hub-Signature-256",
        )
    };
    let github = with(
        Vector::official(
            Provider::GenericHmac,
            "github-layout",
            "GitHub's published example through a layout that describes GitHub's scheme.",
            GITHUB_DOCS,
        )
        .secrets(&["It's a Secret to Everybody"])
        .header(
            "x-hub-signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        )
        .body(b"Hello, World!"),
        github_layout,
    );
    let slack_layout = GenericHmac {
        prefix: Some("v0=".to_owned()),
        timestamp_header: Some("X-Slack-Request-Timestamp".to_owned()),
        template: Some("v0:{timestamp}:{body}".to_owned()),
        ..layout(
            HmacAlgorithm::Sha256,
            DigestEncoding::Hex,
            "X-Slack-Signature",
        )
    };
    let slack = with(
        Vector::official(
            Provider::GenericHmac,
            "slack-layout",
            "Slack's worked example through a layout that describes Slack's scheme, timestamp \
             and all.",
            SLACK_DOCS,
        )
        .secrets(&["8f742231b10e8888abcd99yyyzzz85a5"])
        .at(1_531_420_618)
        .header("x-slack-signature", SLACK_SIGNATURE)
        .header("x-slack-request-timestamp", "1531420618")
        .body(SLACK_BODY.as_bytes()),
        slack_layout,
    );
    let body = br#"{"event":"order.paid","id":"ord_42"}"#;
    let sha1 = with(
        Vector::official(
            Provider::GenericHmac,
            "sha1-hex",
            "HMAC-SHA1 of the body, hex, with no prefix.",
            "https://www.rfc-editor.org/rfc/rfc2104",
        )
        .note(INDEPENDENT)
        .secrets(&["generic-shared-secret"])
        .header("x-signature", "446dabe68c57edab899421744867c6beeafd1903")
        .body(body),
        layout(HmacAlgorithm::Sha1, DigestEncoding::Hex, "X-Signature"),
    );
    let sha512 = with(
        Vector::official(
            Provider::GenericHmac,
            "sha512-base64",
            "HMAC-SHA512 of `{timestamp}.{body}`, base64.",
            "https://www.rfc-editor.org/rfc/rfc2104",
        )
        .note(INDEPENDENT)
        .secrets(&["generic-shared-secret"])
        .at(1_700_000_000)
        .header(
            "x-signature",
            "GugTcNn2vgAu7jlY7fquVD3apQnuFkJefMv4QehnOB6RrS9fT5V5f5HWnisQeFZFYeHpYR3gd3vQoPmi5GPQJA==",
        )
        .header("x-timestamp", "1700000000")
        .body(body),
        GenericHmac {
            timestamp_header: Some("X-Timestamp".to_owned()),
            template: Some("{timestamp}.{body}".to_owned()),
            ..layout(HmacAlgorithm::Sha512, DigestEncoding::Base64, "X-Signature")
        },
    );
    let mut out = vec![github.clone(), slack.clone(), sha1, sha512];
    out.extend(derived(
        &slack,
        &Shape {
            signature: "x-slack-signature",
            garbage: "v0=a2114d57",
            timestamp: Some("x-slack-request-timestamp"),
            signed_at: Some(1_531_420_618),
            body_signed: true,
            other_secret: "9f742231b10e8888abcd99yyyzzz85a5",
        },
    ));
    out.push(github.derive(
        "no-layout",
        "A generic-hmac source without its layout cannot verify.",
        Some("source_misconfigured"),
        |v| v.options.generic = None,
    ));
    out.push(github.derive(
        "bad-template",
        "A layout whose template names a placeholder other than {body} and {timestamp}.",
        Some("source_misconfigured"),
        |v| {
            if let Some(layout) = &mut v.options.generic {
                layout.template = Some("{id}.{body}".to_owned());
            }
        },
    ));
    out
}

fn main() {
    let vectors: Vec<Vector> = [
        github(),
        stripe(),
        slack(),
        shopify(),
        standard_webhooks(),
        twilio(),
        twitch(),
        zoom(),
        square(),
        linear(),
        intercom(),
        gitlab(),
        sendgrid(),
        discord(),
        generic_hmac(),
    ]
    .concat();
    let file = FileOut {
        format: "hookpost-conformance-vectors/1",
        about: "Accept and refuse vectors for the webhook signature schemes Hookpost verifies. \
                docs/conformance/README.md describes the format.",
        vectors: vectors.iter().map(Vector::out).collect(),
    };
    let text = serde_json::to_string_pretty(&file).expect("JSON");
    println!("{text}");
}
