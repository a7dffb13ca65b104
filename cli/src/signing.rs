//! Signing and verifying a body the way a provider does, for `hookpost sign`, `send`, `verify`
//! and the demo. The schemes themselves live in the shared verifier registry.

use hookpost_shared::secret::Secret;
use hookpost_shared::signature::{Provider, SchemeOptions};

/// Header names and values, in the order they are sent.
pub type Headers = Vec<(String, String)>;

/// The header a provider names the event type in, where it uses one.
pub fn event_header(provider: Provider) -> Option<&'static str> {
    match provider {
        Provider::Github => Some("x-github-event"),
        Provider::Shopify => Some("x-shopify-topic"),
        Provider::Gitlab => Some("x-gitlab-event"),
        Provider::Twitch => Some("twitch-eventsub-subscription-type"),
        _ => None,
    }
}

/// The headers a provider would send with `body`, signed with `secret` at `now` (Unix seconds).
/// `event_type` is sent where the provider carries it in a header.
pub fn provider_headers(
    provider: Provider,
    secret: &Secret,
    body: &[u8],
    event_type: Option<&str>,
    now: i64,
    options: &SchemeOptions,
) -> Result<Headers, String> {
    let mut headers = provider
        .sign(secret, body, now, options)
        .map_err(|e| e.to_string())?;
    if let (Some(name), Some(event)) = (event_header(provider), event_type) {
        headers.push((name.to_owned(), event.to_owned()));
    }
    Ok(headers)
}
