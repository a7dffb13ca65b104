//! What a secret rotation did, as `sources rotate-secret` and `subscriptions rotate-secret` both
//! print it under their own id field.

use hookpost_operations::sources::{Revealed, Rotation};
use serde::Serialize;

/// What a rotation did, under the id field of its kind; the new secret is printed here and
/// nowhere else.
#[derive(Debug, Serialize)]
pub struct RotationFields {
    retired: usize,
    secrets: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<Revealed>,
    /// A subscription's new `whpk_` public key (not a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key: Option<String>,
}

impl From<Rotation> for RotationFields {
    fn from(r: Rotation) -> Self {
        Self {
            retired: r.retired,
            secrets: r.secrets,
            secret: r.secret,
            public_key: r.public_key,
        }
    }
}

impl RotationFields {
    pub fn print(&self, id: &str) {
        if let Some(secret) = &self.secret {
            println!("new secret {}", secret.expose());
        }
        if let Some(public_key) = &self.public_key {
            println!("new public key {public_key}");
        }
        if self.secret.is_some() || self.public_key.is_some() {
            println!(
                "{id} now has {} secrets. Configure the new one, check it works, then run \
                 rotate-secret --finish.{}",
                self.secrets,
                if self.secret.is_some() {
                    " The new secret is not shown again."
                } else {
                    ""
                }
            );
        } else {
            println!(
                "{id}: retired {} old secret(s); only the newest is used now",
                self.retired
            );
        }
    }
}
