//! `hookpost deliveries`: every attempt of an event, per subscription.

use hookpost_operations::Operations;
use hookpost_shared::aws::DeliveryRecord;

use crate::CliError;
use crate::output::{Output, or_dash};

pub async fn run(ops: &Operations, output: Output, event_id: &str) -> Result<(), CliError> {
    let records = ops.deliveries_of(event_id).await?;
    output.show(&records, |records| print(event_id, records))
}

/// Every attempt of every subscription, for people.
pub(crate) fn print(event_id: &str, records: &[DeliveryRecord]) {
    if records.is_empty() {
        println!("no delivery attempts recorded for {event_id}");
    }
    for r in records {
        println!(
            "{}  {}  {} attempt(s)",
            r.subscription_id, r.status, r.attempts
        );
        let mut t = crate::output::table(["AT", "OUTCOME", "STATUS", "TIME", "ERROR"]);
        for a in &r.history {
            t.add_row([
                a.at.clone(),
                a.outcome.clone(),
                or_dash(a.status_code),
                format!("{} ms", a.duration_ms),
                a.error.clone().unwrap_or_default(),
            ]);
        }
        crate::output::print_table(&t);
        if let Some(snippet) = &r.last_response {
            println!(
                "  last response: {}",
                snippet.chars().take(200).collect::<String>()
            );
        }
    }
}
