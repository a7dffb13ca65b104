//! Publish: the source of events a backend publishes through the API
//! (`POST /v1/sources/{id}/events`), where the caller is authenticated by IAM (SigV4) before the
//! function runs. Such a source has no secret and no scheme; the receiver's `POST
//! /webhooks/{source}` answers 404 for it, and this scheme refuses every request should anything
//! ever ask it to verify one — the two doors never mix.

use super::{
    Check, EventMeta, Inbound, OptionsError, Scheme, SchemeOptions, SignError, SignedHeaders,
    VerifyError,
};
use crate::secret::Secret;

/// The publish source's (absent) scheme.
#[derive(Debug, Clone, Copy)]
pub struct Publish;

impl Scheme for Publish {
    fn name(&self) -> &'static str {
        "publish"
    }

    fn forwarded_headers(&self) -> &'static [&'static str] {
        &[]
    }

    fn verify(&self, _check: &Check<'_>, _request: &Inbound<'_>) -> Result<(), VerifyError> {
        Err(VerifyError::Unconfigured(
            "a publish source takes events only through the API",
        ))
    }

    fn describe(&self, _check: &Check<'_>, _request: &Inbound<'_>) -> EventMeta {
        EventMeta::default()
    }

    fn check_options(&self, options: &SchemeOptions) -> Result<(), OptionsError> {
        if *options == SchemeOptions::default() {
            Ok(())
        } else {
            Err(OptionsError::NotApplicable(
                "a publish source has no signature scheme, so it takes no scheme options",
            ))
        }
    }

    fn sign(
        &self,
        _secret: &Secret,
        _body: &[u8],
        _now: i64,
        _event_type: Option<&str>,
        _options: &SchemeOptions,
    ) -> Result<SignedHeaders, SignError> {
        Err(SignError::Invalid(
            "a publish source has no signature: publish its events through the API".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;
    use crate::signature::{Provider, TimePolicy};

    #[test]
    fn a_publish_source_verifies_no_request_even_with_a_secret() {
        let secrets = [Secret::new("anything")];
        let options = SchemeOptions::default();
        let check = Check {
            secrets: &secrets,
            policy: TimePolicy {
                now: 0,
                tolerance: std::time::Duration::ZERO,
            },
            options: &options,
        };
        let headers = HeaderMap::new();
        let inbound = Inbound {
            headers: &headers,
            body: b"{}",
            query: None,
        };
        assert!(matches!(
            Provider::Publish.verify(&check, &inbound),
            Err(VerifyError::Unconfigured(_))
        ));
        assert!(
            Provider::Publish
                .sign(&secrets[0], b"{}", 0, &options)
                .is_err()
        );
    }

    #[test]
    fn publish_is_named_in_configuration_but_is_no_signature_scheme() {
        assert_eq!("publish".parse::<Provider>(), Ok(Provider::Publish));
        assert_eq!(Provider::Publish.name(), "publish");
        assert!(!Provider::ALL.contains(&Provider::Publish));
        assert!(Provider::Publish.is_publish());
    }
}
