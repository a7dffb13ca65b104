//! A deployment's resources by physical name: what the functions, the CLI, the API and the local
//! stack are wired to, whether read from a CloudFormation stack's outputs, from `HOOKPOST_*`
//! variables or from a local stack's state file.

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, required_in};

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

impl StackNames {
    /// The variables that name a deployment, in field order: what the API function and the CLI
    /// read, and what tests and benches set for them.
    pub const VARIABLES: [&'static str; 8] = [
        "HOOKPOST_SOURCES_TABLE",
        "HOOKPOST_SUBSCRIPTIONS_TABLE",
        "HOOKPOST_DELIVERIES_TABLE",
        "HOOKPOST_DELIVERY_IDS_TABLE",
        "HOOKPOST_EVENTS_TABLE",
        "HOOKPOST_BODIES_BUCKET",
        "HOOKPOST_INGEST_QUEUE_URL",
        "HOOKPOST_DEAD_LETTER_QUEUE_URL",
    ];

    /// Each of [`StackNames::VARIABLES`] with this deployment's value.
    pub fn to_env(&self) -> [(&'static str, String); 8] {
        let values = [
            &self.sources_table,
            &self.subscriptions_table,
            &self.deliveries_table,
            &self.delivery_ids_table,
            &self.events_table,
            &self.bodies_bucket,
            &self.ingest_queue_url,
            &self.dead_letter_queue_url,
        ];
        let mut pairs = Self::VARIABLES.map(|name| (name, String::new()));
        for (pair, value) in pairs.iter_mut().zip(values) {
            pair.1 = value.clone();
        }
        pairs
    }

    /// The deployment `lookup` names through [`StackNames::VARIABLES`]; the first one missing or
    /// empty is the error.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let [
            sources,
            subscriptions,
            deliveries,
            delivery_ids,
            events,
            bodies,
            ingest,
            dead_letters,
        ] = Self::VARIABLES;
        let get = |name| required_in(&lookup, name);
        Ok(Self {
            sources_table: get(sources)?,
            subscriptions_table: get(subscriptions)?,
            deliveries_table: get(deliveries)?,
            delivery_ids_table: get(delivery_ids)?,
            events_table: get(events)?,
            bodies_bucket: get(bodies)?,
            ingest_queue_url: get(ingest)?,
            dead_letter_queue_url: get(dead_letters)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn names() -> StackNames {
        StackNames {
            sources_table: "s".into(),
            subscriptions_table: "sub".into(),
            deliveries_table: "d".into(),
            delivery_ids_table: "ids".into(),
            events_table: "e".into(),
            bodies_bucket: "b".into(),
            ingest_queue_url: "q".into(),
            dead_letter_queue_url: "dlq".into(),
        }
    }

    #[test]
    fn the_variables_a_deployment_is_written_to_read_it_back() {
        let env: HashMap<&str, String> = names().to_env().into_iter().collect();
        assert_eq!(env.len(), 8, "every variable once");
        assert_eq!(env["HOOKPOST_DEAD_LETTER_QUEUE_URL"], "dlq");
        let read = StackNames::from_lookup(|name| env.get(name).cloned()).expect("complete");
        assert_eq!(read, names());
    }

    #[test]
    fn the_first_missing_or_empty_variable_is_named() {
        let mut env: HashMap<&str, String> = names().to_env().into_iter().collect();
        env.insert("HOOKPOST_EVENTS_TABLE", " ".into());
        env.remove("HOOKPOST_BODIES_BUCKET");
        let err = StackNames::from_lookup(|name| env.get(name).cloned()).expect_err("incomplete");
        assert!(err.to_string().contains("HOOKPOST_EVENTS_TABLE"), "{err}");
    }
}
