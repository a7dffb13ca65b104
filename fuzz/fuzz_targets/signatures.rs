//! Every provider scheme on arbitrary headers, body and query: `verify`, `describe`,
//! `handshake` and `queued_reply` never panic, and a request the scheme signed itself verifies.
//! Input: `[provider][flags][now: i64, little-endian]` then the request text of
//! `hookpost_fuzz::parse_request`; the clock is part of the input, so seeds signed at any time
//! verify and the fuzzer also tries extreme clocks.

#![no_main]

use hookpost_fuzz::{options, parse_request, provider, secrets};
use hookpost_shared::signature::{Check, Inbound, Provider, TimePolicy, VerifyError};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(([selector, flags, n0, n1, n2, n3, n4, n5, n6, n7], rest)) =
        data.split_first_chunk::<10>()
    else {
        return;
    };
    let now = i64::from_le_bytes([*n0, *n1, *n2, *n3, *n4, *n5, *n6, *n7]);
    let provider = provider(*selector);
    let options = options(*flags);
    let secrets = secrets(provider);
    let check = Check {
        secrets: &secrets,
        policy: TimePolicy {
            now,
            tolerance: provider.default_tolerance(),
        },
        options: &options,
    };
    let request = parse_request(rest);
    let inbound = Inbound {
        headers: &request.headers,
        body: request.body,
        query: request.query,
    };

    let verified = provider.verify(&check, &inbound);
    let meta = provider.describe(&check, &inbound);
    let _ = provider.queued_reply(&inbound);
    if verified.is_ok() {
        let _ = provider.handshake(&check, &inbound);
    }
    // Every error has a stable code and a message.
    if let Err(e) = &verified {
        assert!(!e.code().is_empty() && !e.to_string().is_empty());
    }
    let _ = meta;

    // What a scheme signs, it verifies.
    if let Ok(signed) = provider.sign(&secrets[0], request.body, check.policy.now, &options) {
        let mut headers = HeaderMap::new();
        for (name, value) in signed {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("a signed header name is valid"),
                HeaderValue::from_str(&value).expect("a signed header value is valid"),
            );
        }
        let own = Inbound {
            headers: &headers,
            body: request.body,
            query: None,
        };
        match provider.verify(&check, &own) {
            Ok(()) => {}
            // Linear signs no timestamp of its own: the body's `webhookTimestamp` is checked.
            Err(VerifyError::TimestampOutOfTolerance { .. } | VerifyError::MalformedBody(_))
                if provider == Provider::Linear => {}
            Err(e) => panic!("{provider} refused its own signature: {e}"),
        }
    }
});
