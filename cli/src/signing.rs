//! Signing a body the way a provider would, for `hookpost sign`, `hookpost send` and the demo.

use hookpost_shared::secret::{Secret, SigningKey};
use hookpost_shared::signature::{Provider, github, standard_webhooks};

/// Header names and values, in the order they are sent.
pub type Headers = Vec<(String, String)>;

/// The headers a provider would send with `body`, signed with `secret` at `now` (Unix seconds).
/// `event_type` is sent where the provider carries it in a header (GitHub's `X-GitHub-Event`).
pub fn provider_headers(
    provider: Provider,
    secret: &Secret,
    body: &[u8],
    event_type: Option<&str>,
    now: i64,
) -> Result<Headers, String> {
    let delivery_id = uuid::Uuid::new_v4();
    match provider {
        Provider::Github => Ok(vec![
            (
                github::SIGNATURE_HEADER.to_owned(),
                github::sign(secret, body),
            ),
            (
                github::EVENT_HEADER.to_owned(),
                event_type.unwrap_or("ping").to_owned(),
            ),
            (github::DELIVERY_HEADER.to_owned(), delivery_id.to_string()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ]),
        Provider::StandardWebhooks => {
            let key = SigningKey::parse_lenient(secret.expose())
                .map_err(|e| format!("the secret is not a Standard Webhooks key: {e}"))?;
            let id = format!("msg_{}", delivery_id.simple());
            let names = standard_webhooks::STANDARD_HEADERS;
            Ok(vec![
                (
                    names.signature.to_owned(),
                    standard_webhooks::sign(&key, &id, now, body),
                ),
                (names.id.to_owned(), id),
                (names.timestamp.to_owned(), now.to_string()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ])
        }
    }
}
