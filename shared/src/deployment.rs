//! A deployment's resources by physical name: what the functions, the CLI, the API and the local
//! stack are wired to, whether read from a CloudFormation stack's outputs, from `HOOKPOST_*`
//! variables or from a local stack's state file.

use serde::{Deserialize, Serialize};

/// The physical names the handlers and the CLI work with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackNames {
    pub sources_table: String,
    pub subscriptions_table: String,
    pub deliveries_table: String,
    pub delivery_ids_table: String,
    /// Empty in the state file of a local stack started before the archive existed.
    #[serde(default)]
    pub events_table: String,
    pub bodies_bucket: String,
    pub ingest_queue_url: String,
    pub dead_letter_queue_url: String,
}
