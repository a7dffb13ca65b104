//! Signing and verifying a body the way a provider does, for `hookpost sign`, `send`, `verify`
//! and the demo. The schemes themselves live in the shared verifier registry.

use hookpost_shared::secret::Secret;
use hookpost_shared::signature::{Provider, SchemeOptions};

/// Header names and values, in the order they are sent.
pub type Headers = Vec<(String, String)>;

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
    provider
        .scheme()
        .sign(secret, body, now, event_type, options)
        .map_err(|e| e.to_string())
}
