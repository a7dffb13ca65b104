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
}

impl From<Rotation> for RotationFields {
    fn from(r: Rotation) -> Self {
        Self {
            retired: r.retired,
            secrets: r.secrets,
            secret: r.secret,
        }
    }
}

impl RotationFields {
    pub fn print(&self, id: &str) {
        match &self.secret {
            Some(secret) => {
                println!("new secret {}", secret.expose());
                println!(
                    "{id} now accepts {} secrets. Configure the new one, check it works, then \
                     run rotate-secret --finish. It is not shown again.",
                    self.secrets
                );
            }
            None => println!(
                "{id}: retired {} old secret(s); only the newest is used now",
                self.retired
            ),
        }
    }
}
