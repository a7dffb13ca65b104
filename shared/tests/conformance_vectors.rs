//! Runs every published conformance vector (`docs/conformance/vectors.json`) through
//! `Provider::verify`: each must be accepted, or refused with the code its `reason` names. The
//! file, not this test, is the source of truth; `docs/conformance/README.md` describes it.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::{Check, Inbound, Provider, SchemeOptions, TimePolicy};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../docs/conformance/vectors.json"
));

/// The refusal codes a vector may name: those `VerifyError::code` answers with.
const REASONS: [&str; 5] = [
    "missing_signature",
    "invalid_signature",
    "timestamp_out_of_tolerance",
    "malformed_request",
    "source_misconfigured",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    /// What the file is, for a reader.
    #[serde(rename = "about")]
    _about: String,
    vectors: Vec<Vector>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    id: String,
    scheme: Provider,
    description: String,
    source: Option<String>,
    /// How a signature the provider did not publish was computed, for a reader.
    #[serde(rename = "note")]
    _note: Option<String>,
    derived_from: Option<String>,
    expect: Expect,
    reason: Option<String>,
    secrets: Vec<String>,
    options: SchemeOptions,
    now: i64,
    tolerance: u64,
    request: Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Accept,
    Refuse,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Option<String>,
    body_base64: Option<String>,
}

fn vectors() -> Vec<Vector> {
    let file: File = serde_json::from_str(VECTORS).expect("vectors.json is a vector file");
    assert_eq!(file.format, "hookpost-conformance-vectors/1");
    file.vectors
}

impl Vector {
    fn body(&self) -> Vec<u8> {
        match (&self.request.body, &self.request.body_base64) {
            (Some(text), None) => text.as_bytes().to_vec(),
            (None, Some(encoded)) => BASE64.decode(encoded).expect("base64 body"),
            _ => panic!("{}: exactly one of body and body_base64", self.id),
        }
    }

    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.request.headers {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                HeaderValue::from_str(value).expect("a header value"),
            );
        }
        headers
    }

    /// What the verifier makes of the vector: `Ok` or the refusal code.
    fn outcome(&self) -> Result<(), &'static str> {
        let secrets: Vec<Secret> = self.secrets.iter().map(Secret::new).collect();
        let headers = self.headers();
        let body = self.body();
        let check = Check {
            secrets: &secrets,
            policy: TimePolicy {
                now: self.now,
                tolerance: Duration::from_secs(self.tolerance),
            },
            options: &self.options,
        };
        let request = Inbound {
            headers: &headers,
            body: &body,
            query: self.request.query.as_deref(),
        };
        self.scheme.verify(&check, &request).map_err(|e| e.code())
    }
}

#[test]
fn every_published_vector_is_accepted_or_refused_for_its_reason() {
    let vectors = vectors();
    let wrong: Vec<String> = vectors
        .iter()
        .filter_map(|v| {
            let expected = match v.expect {
                Expect::Accept => Ok(()),
                Expect::Refuse => Err(v.reason.as_deref().unwrap_or("(no reason)")),
            };
            let got = v.outcome();
            (got != expected).then(|| format!("{}: expected {expected:?}, got {got:?}", v.id))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} vectors disagree:\n{}",
        wrong.len(),
        vectors.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_vector_is_well_formed_and_says_where_it_comes_from() {
    let vectors = vectors();
    let mut ids = HashSet::new();
    for v in &vectors {
        assert!(ids.insert(v.id.as_str()), "{}: id repeated", v.id);
        assert!(
            v.id.starts_with(&format!("{}/", v.scheme)),
            "{}: the id starts with the scheme",
            v.id
        );
        assert!(!v.description.is_empty(), "{}", v.id);
        match (v.expect, v.reason.as_deref()) {
            (Expect::Accept, None) => {}
            (Expect::Refuse, Some(reason)) if REASONS.contains(&reason) => {}
            (expect, reason) => panic!("{}: {expect:?} with reason {reason:?}", v.id),
        }
        match (&v.source, &v.derived_from) {
            (Some(source), None) => assert!(source.starts_with("https://"), "{}", v.id),
            (None, Some(from)) => assert!(
                vectors
                    .iter()
                    .any(|o| &o.id == from && o.scheme == v.scheme),
                "{}: derived from an unknown vector {from}",
                v.id
            ),
            _ => panic!("{}: either a source or derived_from", v.id),
        }
    }
}

#[test]
fn every_scheme_has_published_accept_vectors_and_derived_refusals() {
    let vectors = vectors();
    for &provider in Provider::ALL {
        let count = |keep: &dyn Fn(&Vector) -> bool| {
            vectors
                .iter()
                .filter(|v| v.scheme == provider && keep(v))
                .count()
        };
        assert!(
            count(&|v| v.source.is_some() && v.expect == Expect::Accept) > 0,
            "{provider}: no accepted vector with a source"
        );
        assert!(
            count(&|v| v.expect == Expect::Refuse) >= 5,
            "{provider}: too few refusals"
        );
    }
}
