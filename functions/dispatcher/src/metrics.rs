//! The dispatcher's metrics in CloudWatch's embedded metric format: a JSON line per batch on
//! stdout, which Lambda ships to CloudWatch Logs and CloudWatch turns into metrics, with no
//! `PutMetricData` call on the delivery path.
//!
//! Spec: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use hookpost_shared::delivery::{AttemptOutcome, RetryReason};
use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every Hookpost metric.
pub const NAMESPACE: &str = "Hookpost";
/// The one dimension: the function's name, so stacks in one account stay apart.
pub const DIMENSION: &str = "Function";
/// The spec allows at most 100 values per metric in one document.
const MAX_VALUES: usize = 100;

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchMetrics {
    /// Attempts answered with 2xx.
    pub delivered: u64,
    /// Attempts that need another try, whatever the reason (the failure rate's numerator).
    pub retried: u64,
    /// Attempts answered with 410 Gone.
    pub gone: u64,
    /// Of the retried: refused by the SSRF guard.
    pub blocked: u64,
    /// Of the retried: no answer in time.
    pub timeouts: u64,
    /// Of the retried: the subscription cannot be delivered to as configured.
    pub misconfigured: u64,
    /// Deliveries not attempted because the invocation was about to time out.
    pub deferred: u64,
    /// Deliveries that waited for their subscription's rate limit (in the invocation or, when
    /// the slot was further off, on the queue).
    pub throttled: u64,
    /// Records queued again to wait for a rate limit's slot (their receives are not spent).
    pub requeued: u64,
    /// Records that are not deliverable envelopes.
    pub malformed: u64,
    /// Records handed back to the queue for a later receive.
    pub retries: u64,
    /// Subscriptions disabled (410 Gone or a failure streak).
    pub disabled_subscriptions: u64,
    /// Each attempt's duration, in milliseconds.
    pub latencies_ms: Vec<u64>,
}

impl BatchMetrics {
    /// Counts one attempt by its outcome.
    pub fn attempt(&mut self, outcome: &AttemptOutcome, duration_ms: u64) {
        match outcome {
            AttemptOutcome::Delivered { .. } => self.delivered += 1,
            AttemptOutcome::Gone { .. } => self.gone += 1,
            AttemptOutcome::Retry { reason, .. } => {
                self.retried += 1;
                match reason {
                    RetryReason::Blocked => self.blocked += 1,
                    RetryReason::Timeout => self.timeouts += 1,
                    RetryReason::Misconfigured => self.misconfigured += 1,
                    RetryReason::Throttled
                    | RetryReason::ServerError
                    | RetryReason::Redirect
                    | RetryReason::ClientError
                    | RetryReason::Connection => {}
                }
            }
        }
        self.latencies_ms.push(duration_ms);
    }

    /// The EMF documents, one JSON object per line: the counts (zeros included, so the failure
    /// rate has data points in quiet periods) and up to 100 latencies in the first, further
    /// latencies in as many more as they need.
    pub fn to_emf(&self, function: &str, timestamp_ms: i64) -> Vec<String> {
        let counts: [(&str, u64); 12] = [
            ("Delivered", self.delivered),
            ("Retried", self.retried),
            ("Gone", self.gone),
            ("Blocked", self.blocked),
            ("Timeouts", self.timeouts),
            ("Misconfigured", self.misconfigured),
            ("Deferred", self.deferred),
            ("Throttled", self.throttled),
            ("Requeued", self.requeued),
            ("Malformed", self.malformed),
            ("Retries", self.retries),
            ("DisabledSubscriptions", self.disabled_subscriptions),
        ];
        let mut chunks = self.latencies_ms.chunks(MAX_VALUES);
        let mut first = Map::new();
        let mut definitions: Vec<Value> = Vec::new();
        for (name, value) in counts {
            first.insert(name.to_owned(), json!(value));
            definitions.push(json!({ "Name": name, "Unit": "Count" }));
        }
        if let Some(latencies) = chunks.next() {
            first.insert("DeliveryLatency".to_owned(), json!(latencies));
            definitions.push(latency_definition());
        }
        let mut lines = vec![document(function, timestamp_ms, definitions, first)];
        for latencies in chunks {
            let mut values = Map::new();
            values.insert("DeliveryLatency".to_owned(), json!(latencies));
            lines.push(document(
                function,
                timestamp_ms,
                vec![latency_definition()],
                values,
            ));
        }
        lines
    }
}

fn latency_definition() -> Value {
    json!({ "Name": "DeliveryLatency", "Unit": "Milliseconds" })
}

fn document(
    function: &str,
    timestamp_ms: i64,
    definitions: Vec<Value>,
    mut values: Map<String, Value>,
) -> String {
    values.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[DIMENSION]],
                "Metrics": definitions,
            }],
        }),
    );
    values.insert(DIMENSION.to_owned(), json!(function));
    Value::Object(values).to_string()
}

#[cfg(test)]
mod tests {
    use hookpost_shared::delivery::classify_status;

    use super::*;

    fn parse(line: &str) -> Value {
        serde_json::from_str(line).expect("one JSON object per line")
    }

    #[test]
    fn a_batch_becomes_one_emf_document_with_every_count_and_the_latencies() {
        let mut m = BatchMetrics::default();
        m.attempt(&classify_status(204, None), 12);
        m.attempt(&classify_status(500, None), 30);
        m.attempt(&AttemptOutcome::unsent(RetryReason::Timeout), 1000);
        m.attempt(&classify_status(410, None), 5);
        m.retries = 1;
        m.disabled_subscriptions = 1;

        let lines = m.to_emf("hookpost-dispatcher", 1_700_000_000_000);

        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains('\n'));
        let doc = parse(&lines[0]);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(directive["Namespace"], "Hookpost");
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(doc["Function"], "hookpost-dispatcher");
        // Every declared metric has its value at the root, as the spec requires.
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .map(|d| d["Name"].as_str().expect("name"))
            .collect();
        for name in &names {
            assert!(doc.get(*name).is_some(), "{name} has no value");
        }
        assert_eq!(doc["Delivered"], 1);
        assert_eq!(doc["Retried"], 2);
        assert_eq!(doc["Timeouts"], 1);
        assert_eq!(doc["Gone"], 1);
        assert_eq!(doc["Blocked"], 0);
        assert_eq!(doc["Retries"], 1);
        assert_eq!(doc["DisabledSubscriptions"], 1);
        assert_eq!(doc["DeliveryLatency"], json!([12, 30, 1000, 5]));
        let latency = directive["Metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .find(|d| d["Name"] == "DeliveryLatency")
            .expect("declared");
        assert_eq!(latency["Unit"], "Milliseconds");
    }

    #[test]
    fn more_than_a_hundred_latencies_spill_into_further_documents() {
        let mut m = BatchMetrics::default();
        for ms in 0..250 {
            m.attempt(&classify_status(200, None), ms);
        }

        let lines = m.to_emf("f", 0);

        assert_eq!(lines.len(), 3);
        let sizes: Vec<usize> = lines
            .iter()
            .map(|l| parse(l)["DeliveryLatency"].as_array().map_or(0, Vec::len))
            .collect();
        assert_eq!(sizes, [100, 100, 50]);
        let extra = parse(&lines[1]);
        assert_eq!(extra.get("Delivered"), None);
        assert_eq!(extra["Function"], "f");
    }

    #[test]
    fn every_retried_attempt_counts_as_retried_and_some_reasons_also_on_their_own() {
        let mut m = BatchMetrics::default();
        for reason in [
            RetryReason::Blocked,
            RetryReason::Timeout,
            RetryReason::Misconfigured,
            RetryReason::Connection,
            RetryReason::Throttled,
        ] {
            m.attempt(&AttemptOutcome::unsent(reason), 1);
        }

        assert_eq!(
            (m.retried, m.blocked, m.timeouts, m.misconfigured),
            (5, 1, 1, 1)
        );
        assert_eq!((m.delivered, m.gone), (0, 0));
    }

    #[test]
    fn a_quiet_batch_still_reports_zero_counts() {
        let doc = parse(&BatchMetrics::default().to_emf("f", 0)[0]);
        assert_eq!(doc["Delivered"], 0);
        assert_eq!(doc["Retried"], 0);
        assert_eq!(doc.get("DeliveryLatency"), None);
    }
}
