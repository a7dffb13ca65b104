//! One conformance suite for every scheme: what any webhook signature must withstand, checked
//! through [`Provider`] and its [`Scheme`](super::Scheme) on requests the scheme signs itself
//! (SendGrid's and Discord's with key pairs of the tests' own, since only those providers hold
//! their private keys). Each scheme's module keeps only its known-answer vectors and its quirks.

use http::{HeaderMap, HeaderValue};

use super::testing::headers;
use super::{
    Check, DigestEncoding, GenericHmac, HmacAlgorithm, Inbound, Provider, SchemeOptions, SignError,
    SignedHeaders, TimePolicy, VerifyError, discord, github, intercom, linear, sendgrid, shopify,
    slack, square, stripe, twilio, twitch, zoom,
};
use crate::secret::Secret;

/// The clock every request is signed at.
const NOW: i64 = 1_700_000_000;
const EVENT_TYPE: &str = "conformance.event";
const PUBLIC_URL: &str = "https://hooks.example.com/webhooks/conformance";
/// Twilio posts forms; no percent escapes, which a case change inside would leave meaning the
/// same.
const FORM_BODY: &[u8] =
    b"AccountSid=AC123&MessageSid=SM456&MessageStatus=delivered&To=15551234567";

/// Who signs a fixture's requests.
enum Signer {
    /// The scheme's own `sign`, with the source's secret.
    Scheme,
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A source of one provider and a body it would be sent.
struct Fixture {
    provider: Provider,
    signer: Signer,
    /// What the source holds: the shared secret, or the provider's public key.
    secret: Secret,
    /// Another secret of the same form, which signs nothing here.
    other: Secret,
    options: SchemeOptions,
    body: Vec<u8>,
    /// Header values that are not in the scheme's format, each refused as an invalid signature
    /// whatever the secret.
    malformed: Vec<(&'static str, String)>,
}

fn fixture(provider: Provider) -> Fixture {
    let json = format!(
        r#"{{"id":"evt_1","type":"invoice.paid","action":"create","webhookTimestamp":{},"data":{{"amount":1200,"currency":"eur"}}}}"#,
        NOW * 1000
    )
    .into_bytes();
    let mut fixture = Fixture {
        provider,
        signer: Signer::Scheme,
        secret: Secret::new("conformance-secret"),
        other: Secret::new("another-secret"),
        options: SchemeOptions::default(),
        body: json,
        malformed: Vec::new(),
    };
    let hex64 = "0".repeat(64);
    let malformed = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        pairs.iter().map(|(h, v)| (*h, (*v).to_owned())).collect()
    };
    match provider {
        Provider::Github => {
            fixture.malformed = malformed(&[
                (github::SIGNATURE_HEADER, &hex64),
                (github::SIGNATURE_HEADER, &format!("sha1={}", &hex64[..40])),
                (github::SIGNATURE_HEADER, "sha256=757107ea"),
                (
                    github::SIGNATURE_HEADER,
                    &format!("sha256=zz{}", &hex64[2..]),
                ),
            ]);
        }
        Provider::Stripe => {
            fixture.secret = Secret::new("whsec_conformance");
            fixture.other = Secret::new("whsec_another");
            let h = stripe::SIGNATURE_HEADER;
            fixture.malformed = malformed(&[
                (h, "bad_header"),
                (h, &format!("v1={hex64}")),
                (h, &format!("t=,v1={hex64}")),
                (h, &format!("t=-5,v1={hex64}")),
                (h, &format!("t=+{NOW},v1={hex64}")),
                (h, &format!("t=99999999999999999999999,v1={hex64}")),
                (h, &format!("t={NOW},t={NOW},v1={hex64}")),
                (h, &format!("t={NOW}")),
                (h, &format!("t={NOW},v1=abc")),
            ]);
        }
        Provider::Slack => {
            fixture.malformed = malformed(&[
                (slack::SIGNATURE_HEADER, &hex64),
                (slack::SIGNATURE_HEADER, &format!("v1={hex64}")),
                (slack::SIGNATURE_HEADER, "v0=a2114d57"),
                (slack::SIGNATURE_HEADER, &format!("v0=zz{}", &hex64[2..])),
                (slack::TIMESTAMP_HEADER, "yesterday"),
                (slack::TIMESTAMP_HEADER, "99999999999999999999999"),
            ]);
        }
        Provider::Shopify => {
            fixture.malformed = malformed(&[
                // hex instead of base64, truncated, not base64, a SHA-1-sized digest
                (shopify::SIGNATURE_HEADER, &hex64[..40]),
                (shopify::SIGNATURE_HEADER, "19sb4TQ53/TxxyK6"),
                (shopify::SIGNATURE_HEADER, "19sb4TQ5!!!!"),
                (shopify::SIGNATURE_HEADER, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            ]);
        }
        Provider::StandardWebhooks => {
            fixture.secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
            fixture.other = Secret::new("whsec_b2xkLXNlY3JldC1iZWluZy1yb3RhdGVkLW91dA==");
            fixture.malformed = malformed(&[
                (
                    "webhook-signature",
                    "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                ),
                ("webhook-signature", "v1,%%%"),
                ("webhook-signature", "v1,AAAA"),
                ("webhook-signature", ""),
                ("webhook-timestamp", "99999999999999999999999"),
            ]);
        }
        Provider::Twilio => {
            fixture.options.public_url = Some(PUBLIC_URL.to_owned());
            fixture.body = FORM_BODY.to_vec();
            fixture.malformed = malformed(&[
                (twilio::SIGNATURE_HEADER, "not base64!"),
                (twilio::SIGNATURE_HEADER, "AAAA"),
                (twilio::SIGNATURE_HEADER, "RSOYDt4T1cUTdK1PDd93/VVr8B8"),
                (twilio::SIGNATURE_HEADER, ""),
            ]);
        }
        Provider::Twitch => {
            fixture.malformed = malformed(&[
                (twitch::SIGNATURE_HEADER, &hex64),
                (twitch::SIGNATURE_HEADER, &format!("sha1={}", &hex64[..40])),
                (twitch::SIGNATURE_HEADER, "sha256=2ce0"),
                (
                    twitch::SIGNATURE_HEADER,
                    &format!("sha256=zz{}", &hex64[2..]),
                ),
                (twitch::TIMESTAMP_HEADER, "yesterday"),
            ]);
        }
        Provider::Zoom => {
            fixture.malformed = malformed(&[
                (zoom::SIGNATURE_HEADER, &hex64),
                (zoom::SIGNATURE_HEADER, &format!("v1={hex64}")),
                (zoom::SIGNATURE_HEADER, "v0=3817"),
                (zoom::SIGNATURE_HEADER, &format!("v0=zz{}", &hex64[2..])),
                (zoom::TIMESTAMP_HEADER, ""),
                (zoom::TIMESTAMP_HEADER, "1700000000.5"),
                (zoom::TIMESTAMP_HEADER, "soon"),
            ]);
        }
        Provider::Square => {
            fixture.options.public_url = Some(PUBLIC_URL.to_owned());
            fixture.malformed = malformed(&[
                // A SHA-1-sized digest, bad base64, an empty value.
                (square::SIGNATURE_HEADER, "1z2n3DEJJiUPKcPzQo1ftvbxGdw="),
                (square::SIGNATURE_HEADER, "%%%"),
                (square::SIGNATURE_HEADER, ""),
            ]);
        }
        Provider::Linear => {
            fixture.malformed = malformed(&[
                (linear::SIGNATURE_HEADER, &format!("sha256={hex64}")),
                (linear::SIGNATURE_HEADER, "cb19968f"),
                (linear::SIGNATURE_HEADER, &format!("zz{}", &hex64[2..])),
                (linear::SIGNATURE_HEADER, ""),
            ]);
        }
        Provider::Intercom => {
            fixture.malformed = malformed(&[
                (intercom::SIGNATURE_HEADER, &hex64[..40]),
                (
                    intercom::SIGNATURE_HEADER,
                    &format!("sha256={}", &hex64[..40]),
                ),
                (intercom::SIGNATURE_HEADER, "sha1=34bc24d8"),
                (
                    intercom::SIGNATURE_HEADER,
                    &format!("sha1=zz{}", &hex64[..38]),
                ),
            ]);
        }
        Provider::GenericHmac => {
            fixture.options.generic = Some(GenericHmac {
                algorithm: HmacAlgorithm::Sha256,
                encoding: DigestEncoding::Hex,
                header: "X-Acme-Signature".to_owned(),
                prefix: Some("sha256=".to_owned()),
                timestamp_header: Some("X-Acme-Timestamp".to_owned()),
                template: Some("{timestamp}.{body}".to_owned()),
                event_type_header: Some("X-Acme-Event".to_owned()),
                delivery_id_header: Some("X-Acme-Delivery".to_owned()),
            });
            fixture.malformed = malformed(&[
                ("x-acme-signature", &hex64),
                ("x-acme-signature", "sha256=abcd"),
                ("x-acme-signature", &format!("sha256=zz{}", &hex64[2..])),
                ("x-acme-timestamp", "soon"),
            ]);
        }
        Provider::Sendgrid => {
            let (key, public) = sendgrid::test_key::keypair(7);
            fixture.signer = Signer::P256(key);
            fixture.secret = public;
            fixture.other = sendgrid::test_key::keypair(8).1;
            fixture.malformed = malformed(&[
                (sendgrid::SIGNATURE_HEADER, "%%%"),
                (sendgrid::SIGNATURE_HEADER, "AAAA"),
                (sendgrid::SIGNATURE_HEADER, ""),
                // SendGrid's published "bad timestamp" case.
                (sendgrid::TIMESTAMP_HEADER, "timestamp"),
            ]);
        }
        Provider::Discord => {
            let (key, public) = discord::test_key::keypair(1);
            fixture.signer = Signer::Ed25519(key);
            fixture.secret = public;
            fixture.other = discord::test_key::keypair(2).1;
            fixture.malformed = malformed(&[
                (discord::SIGNATURE_HEADER, ""),
                (discord::SIGNATURE_HEADER, "00"),
                (discord::SIGNATURE_HEADER, "zz"),
                (discord::SIGNATURE_HEADER, &"0".repeat(126)),
                (discord::SIGNATURE_HEADER, &"g".repeat(128)),
                (discord::TIMESTAMP_HEADER, "soon"),
            ]);
        }
        // A token has no format: any other text is simply another token. Publish is not in
        // `Provider::ALL`: it verifies nothing (its own tests show it refuses everything).
        Provider::Gitlab | Provider::Publish => {}
    }
    fixture
}

impl Fixture {
    /// The headers the provider sends with the body at `now`.
    fn signed(&self, now: i64, event_type: Option<&str>) -> SignedHeaders {
        match &self.signer {
            Signer::Scheme => self
                .provider
                .scheme()
                .sign(&self.secret, &self.body, now, event_type, &self.options)
                .unwrap_or_else(|e| panic!("{} signs: {e}", self.provider)),
            Signer::P256(key) => sendgrid::test_key::sign(key, now, &self.body),
            Signer::Ed25519(key) => discord::test_key::sign(key, now, &self.body),
        }
    }

    fn check<'a>(&'a self, secrets: &'a [Secret], now: i64) -> Check<'a> {
        Check {
            secrets,
            policy: TimePolicy {
                now,
                tolerance: self.provider.default_tolerance(),
            },
            options: &self.options,
        }
    }

    fn verify_with(
        &self,
        secrets: &[Secret],
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let request = Inbound {
            headers,
            body,
            query: None,
        };
        self.provider.verify(&self.check(secrets, now), &request)
    }

    /// The code the receiver would answer `headers` with, checked at [`NOW`].
    fn code(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        self.verify_with(std::slice::from_ref(&self.secret), headers, &self.body, NOW)
            .map_err(|e| e.code())
    }

    /// The signed headers without which the request is refused as unsigned. Removing any other
    /// signed header must leave it verified: anything else would mean a header is read but not
    /// reported as missing.
    fn required_headers(&self, signed: &HeaderMap) -> Vec<http::HeaderName> {
        let mut required = Vec::new();
        for name in signed.keys().filter(|n| *n != http::header::CONTENT_TYPE) {
            let mut without = signed.clone();
            without.remove(name);
            match self.code(&without) {
                Ok(()) => {}
                Err("missing_signature") => required.push(name.clone()),
                Err(code) => panic!("{}: without {name}: {code}", self.provider),
            }
        }
        assert!(
            !required.is_empty(),
            "{}: no header is required",
            self.provider
        );
        required
    }
}

/// Another printable character in place of `c`, of the same kind where it has one (a digit for
/// a digit, a letter for a letter), so the header stays well formed as far as it can.
fn other_char(c: u8) -> u8 {
    match c {
        b'9' => b'0',
        b'z' => b'a',
        b'Z' => b'A',
        b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => c + 1,
        _ => b'x',
    }
}

#[test]
fn every_scheme_verifies_what_it_signs_and_reads_the_event_type_it_sent() {
    for &provider in Provider::ALL {
        let f = fixture(provider);
        let sent = f.signed(NOW, Some(EVENT_TYPE));
        assert!(
            sent.iter().any(|(name, _)| name == "content-type"),
            "{provider} names the content type"
        );
        let h = headers(&sent);
        assert_eq!(f.code(&h), Ok(()), "{provider}");
        if sent.iter().any(|(_, value)| value == EVENT_TYPE) {
            let check = f.check(std::slice::from_ref(&f.secret), NOW);
            let request = Inbound {
                headers: &h,
                body: &f.body,
                query: None,
            };
            assert_eq!(
                provider.describe(&check, &request).event_type.as_deref(),
                Some(EVENT_TYPE),
                "{provider}"
            );
        }
    }
}

#[test]
fn any_single_byte_change_to_a_signed_body_is_refused() {
    // GitLab's token covers no byte of the body; its module says so.
    for &provider in Provider::ALL.iter().filter(|p| **p != Provider::Gitlab) {
        let f = fixture(provider);
        let h = headers(&f.signed(NOW, None));
        let secrets = std::slice::from_ref(&f.secret);
        for i in 0..f.body.len() {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut tampered = f.body.clone();
                tampered[i] ^= flip;
                assert_eq!(
                    f.verify_with(secrets, &h, &tampered, NOW)
                        .map_err(|e| e.code()),
                    Err("invalid_signature"),
                    "{provider}: byte {i} ^ {flip:#x}"
                );
            }
        }
    }
}

#[test]
fn any_change_to_a_header_the_scheme_requires_is_refused() {
    for &provider in Provider::ALL {
        let f = fixture(provider);
        let signed = headers(&f.signed(NOW, None));
        for name in f.required_headers(&signed) {
            let value = signed[&name].as_bytes().to_vec();
            for i in 0..value.len() {
                let mut changed = value.clone();
                changed[i] = other_char(changed[i]);
                let mut h = signed.clone();
                h.insert(
                    &name,
                    HeaderValue::from_bytes(&changed).expect("a header value"),
                );
                assert!(
                    f.code(&h).is_err(),
                    "{provider}: {name} with byte {i} changed"
                );
            }
        }
    }
}

#[test]
fn a_header_not_in_the_schemes_format_is_an_invalid_signature() {
    for &provider in Provider::ALL {
        let f = fixture(provider);
        let signed = headers(&f.signed(NOW, None));
        for (name, value) in &f.malformed {
            let mut h = signed.clone();
            h.insert(*name, HeaderValue::from_str(value).expect("a header value"));
            assert_eq!(
                f.code(&h),
                Err("invalid_signature"),
                "{provider}: {name}: {value:?}"
            );
        }
        assert!(
            provider == Provider::Gitlab || !f.malformed.is_empty(),
            "{provider}"
        );
    }
}

#[test]
fn a_wrong_secret_is_refused_and_either_of_two_is_accepted_during_rotation() {
    for &provider in Provider::ALL {
        let f = fixture(provider);
        let h = headers(&f.signed(NOW, None));
        let verify = |secrets: &[Secret]| {
            f.verify_with(secrets, &h, &f.body, NOW)
                .map_err(|e| e.code())
        };
        assert_eq!(
            verify(std::slice::from_ref(&f.other)),
            Err("invalid_signature"),
            "{provider}"
        );
        for secrets in [
            [f.other.clone(), f.secret.clone()],
            [f.secret.clone(), f.other.clone()],
        ] {
            assert_eq!(verify(&secrets), Ok(()), "{provider}");
        }
    }
}

#[test]
fn a_missing_header_is_reported_missing_and_a_repeated_one_is_refused() {
    for &provider in Provider::ALL {
        let f = fixture(provider);
        let signed = headers(&f.signed(NOW, None));
        assert_eq!(
            f.code(&HeaderMap::new()),
            Err("missing_signature"),
            "{provider}"
        );
        for name in f.required_headers(&signed) {
            let value = signed[&name].clone();
            for repeat in [value.clone(), HeaderValue::from_static("0")] {
                let mut twice = signed.clone();
                twice.append(&name, repeat);
                assert!(
                    matches!(
                        f.verify_with(std::slice::from_ref(&f.secret), &twice, &f.body, NOW),
                        Err(VerifyError::MalformedHeader { .. })
                    ),
                    "{provider}: {name} twice"
                );
            }
        }
    }
}

#[test]
fn timestamps_are_checked_both_ways_where_the_scheme_signs_one() {
    for &provider in Provider::ALL {
        let f = fixture(provider);
        let h = headers(&f.signed(NOW, None));
        let at = |now| {
            f.verify_with(std::slice::from_ref(&f.secret), &h, &f.body, now)
                .map_err(|e| e.code())
        };
        if !provider.scheme().signs_timestamp(&f.options) {
            // Nothing to be stale: a replay is caught by the delivery id, not here.
            let decade = 10 * 365 * 24 * 3600;
            assert_eq!(at(NOW + decade), Ok(()), "{provider}");
            assert_eq!(at(NOW - decade), Ok(()), "{provider}");
            continue;
        }
        let tolerance = i64::try_from(provider.default_tolerance().as_secs()).expect("small");
        assert!(tolerance > 0, "{provider}");
        for now in [NOW + tolerance, NOW - tolerance] {
            assert_eq!(at(now), Ok(()), "{provider} at {now}");
        }
        for now in [NOW + tolerance + 1, NOW - tolerance - 1] {
            assert_eq!(
                at(now),
                Err("timestamp_out_of_tolerance"),
                "{provider} at {now}"
            );
        }
    }
}

#[test]
fn a_source_without_secrets_verifies_nothing() {
    for &provider in Provider::ALL {
        let f = fixture(provider);
        let h = headers(&f.signed(NOW, None));
        assert_eq!(
            f.verify_with(&[], &h, &f.body, NOW).map_err(|e| e.code()),
            Err("source_misconfigured"),
            "{provider}"
        );
    }
}

#[test]
fn only_the_provider_can_sign_for_an_asymmetric_scheme() {
    for &provider in Provider::ALL {
        let f = fixture(provider);
        let signed = provider.sign(&f.secret, &f.body, NOW, &f.options);
        match f.signer {
            Signer::Scheme => assert!(signed.is_ok(), "{provider}"),
            Signer::P256(_) | Signer::Ed25519(_) => {
                assert_eq!(signed, Err(SignError::Asymmetric(provider.name())));
            }
        }
    }
}

#[test]
fn every_scheme_that_keys_with_a_secret_accepts_the_new_secrets_it_makes() {
    for &provider in Provider::ALL {
        let f = fixture(provider);
        if !matches!(f.signer, Signer::Scheme) {
            continue;
        }
        let secret = provider.new_secret().expect("randomness");
        let sent = provider
            .scheme()
            .sign(&secret, &f.body, NOW, None, &f.options)
            .expect("signs");
        assert_eq!(
            f.verify_with(&[secret], &headers(&sent), &f.body, NOW),
            Ok(()),
            "{provider}"
        );
        assert_ne!(
            provider.new_secret().expect("randomness").expose(),
            provider.new_secret().expect("randomness").expose(),
            "{provider}"
        );
    }
}
