//! The state file `hookpost local up` writes and `hookpost --local …` reads: where the running
//! local stack's emulator, receiver, management API and resources are.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use hookpost_shared::deployment::StackNames;
use serde::{Deserialize, Serialize};

use crate::emulator::Endpoints;

/// Where `hookpost local up` records the running stack for `hookpost --local …`.
pub const STATE_FILE: &str = ".hookpost/local.json";

/// What `hookpost --local …` needs to reach a running local stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalState {
    /// The emulator of every service not in [`Self::service_endpoints`].
    pub endpoint_url: String,
    /// Services served elsewhere, keyed as `AWS_ENDPOINT_URL_<KEY>` (DynamoDB on moto beside
    /// LocalStack: `{"DYNAMODB": "http://127.0.0.1:PORT"}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_endpoints: BTreeMap<String, String>,
    pub region: String,
    /// `http://127.0.0.1:PORT/webhooks/`: append the source id.
    pub receiver_url: String,
    /// `http://127.0.0.1:PORT/v1/`: the management API, signed with the local credentials
    /// (`test`/`test`, service `execute-api`, [`Self::region`]). Empty in a state file written
    /// before the local stack served it.
    #[serde(default)]
    pub api_url: String,
    pub names: StackNames,
    /// The ARNs subscriptions may target (the template's `DestinationArns`).
    #[serde(default)]
    pub destinations: Vec<String>,
}

impl LocalState {
    /// Where the stack's services are.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            default: self.endpoint_url.clone(),
            services: self.service_endpoints.clone(),
        }
    }

    pub fn path() -> PathBuf {
        PathBuf::from(STATE_FILE)
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|_| {
            format!(
                "no local stack is running (no {}): start one with `hookpost local up`",
                path.display()
            )
        })?;
        serde_json::from_str(&text).map_err(|e| format!("{} is unreadable: {e}", path.display()))
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_file_written_before_the_api_was_served_still_loads() {
        let names = serde_json::json!({
            "sources_table": "s", "subscriptions_table": "s", "deliveries_table": "d",
            "delivery_ids_table": "i", "events_table": "e", "bodies_bucket": "b",
            "ingest_queue_url": "http://127.0.0.1:5000/q", "dead_letter_queue_url": "http://127.0.0.1:5000/dlq"
        });
        let old = serde_json::json!({
            "endpoint_url": "http://127.0.0.1:5000",
            "region": "us-east-1",
            "receiver_url": "http://127.0.0.1:3000/webhooks/",
            "names": names,
        });
        let state: LocalState = serde_json::from_value(old).expect("an old state file");
        assert_eq!(state.api_url, "");
        assert_eq!(state.receiver_url, "http://127.0.0.1:3000/webhooks/");
        assert_eq!(
            state.endpoints(),
            Endpoints::single("http://127.0.0.1:5000")
        );
    }
}
