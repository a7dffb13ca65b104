//! `--stack NAME`: a deployed stack's names, read from its CloudFormation outputs (template.yaml,
//! `Outputs`), so an operator never copies queue URLs or table names by hand.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use hookpost_shared::deployment::StackNames;

/// The outputs the CLI needs, as template.yaml names them.
pub mod outputs {
    pub const WEBHOOK_BASE_URL: &str = "WebhookBaseUrl";
    pub const INGEST_QUEUE_URL: &str = "IngestQueueUrl";
    pub const DEAD_LETTER_QUEUE_URL: &str = "DeadLetterQueueUrl";
    pub const SOURCES_TABLE: &str = "SourcesTableName";
    pub const SUBSCRIPTIONS_TABLE: &str = "SubscriptionsTableName";
    pub const DELIVERIES_TABLE: &str = "DeliveriesTableName";
    pub const DELIVERY_IDS_TABLE: &str = "DeliveryIdsTableName";
    pub const EVENTS_TABLE: &str = "EventsTableName";
    pub const BODIES_BUCKET: &str = "BodiesBucketName";
}

/// A deployed stack as the CLI works with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedStack {
    pub names: StackNames,
    /// `https://…/webhooks/`: append the source id.
    pub webhook_base_url: String,
    /// Its `DestinationArns` parameter: the ARNs subscriptions may target.
    pub destinations: Vec<String>,
}

/// Why a stack's outputs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(
        "no stack named {stack} in {region} — deploy with `sam deploy --guided` or pass --stack \
         (and --region) naming the deployed stack"
    )]
    NotFound { stack: String, region: String },
    #[error(
        "stack {stack} has no output{plural} {missing}: it was deployed from an older template — \
         run `sam deploy` again",
        plural = if missing.contains(',') { "s" } else { "" }
    )]
    MissingOutputs { stack: String, missing: String },
    #[error("reading stack {stack} in {region} failed: {message}")]
    Call {
        stack: String,
        region: String,
        message: String,
    },
}

/// The stack's names from its outputs (name → value). Pure, so the mapping is tested without AWS.
pub fn from_outputs(
    stack: &str,
    outputs: &BTreeMap<String, String>,
) -> Result<DeployedStack, StackError> {
    use outputs::*;
    let mut missing = Vec::new();
    let mut get = |name: &'static str| match outputs.get(name) {
        Some(value) if !value.is_empty() => value.clone(),
        _ => {
            missing.push(name);
            String::new()
        }
    };
    let deployed = DeployedStack {
        webhook_base_url: get(WEBHOOK_BASE_URL),
        destinations: Vec::new(),
        names: StackNames {
            sources_table: get(SOURCES_TABLE),
            subscriptions_table: get(SUBSCRIPTIONS_TABLE),
            deliveries_table: get(DELIVERIES_TABLE),
            delivery_ids_table: get(DELIVERY_IDS_TABLE),
            events_table: get(EVENTS_TABLE),
            bodies_bucket: get(BODIES_BUCKET),
            ingest_queue_url: get(INGEST_QUEUE_URL),
            dead_letter_queue_url: get(DEAD_LETTER_QUEUE_URL),
        },
    };
    if missing.is_empty() {
        Ok(deployed)
    } else {
        Err(StackError::MissingOutputs {
            stack: stack.to_owned(),
            missing: missing.join(", "),
        })
    }
}

/// Reads stack `stack`'s outputs with `DescribeStacks`.
pub async fn describe(sdk: &SdkConfig, stack: &str) -> Result<DeployedStack, StackError> {
    let region = sdk
        .region()
        .map_or_else(|| "the default region".to_owned(), ToString::to_string);
    let client = aws_sdk_cloudformation::Client::new(sdk);
    let out = match client.describe_stacks().stack_name(stack).send().await {
        Ok(out) => out,
        // CloudFormation answers a missing stack with a ValidationError, "Stack with id X does
        // not exist" (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html).
        Err(e)
            if e.as_service_error()
                .and_then(|s| s.meta().message())
                .is_some_and(|m| m.contains("does not exist")) =>
        {
            return Err(StackError::NotFound {
                stack: stack.to_owned(),
                region,
            });
        }
        Err(e) => {
            return Err(StackError::Call {
                stack: stack.to_owned(),
                region,
                message: aws_sdk_cloudformation::error::DisplayErrorContext(e).to_string(),
            });
        }
    };
    let Some(found) = out.stacks().first() else {
        return Err(StackError::NotFound {
            stack: stack.to_owned(),
            region,
        });
    };
    let outputs: BTreeMap<String, String> = found
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    let destinations = found
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some("DestinationArns"))
        .and_then(|p| p.parameter_value())
        .map(hookpost_shared::aws::destinations::arn_list)
        .unwrap_or_default();
    Ok(DeployedStack {
        destinations,
        ..from_outputs(stack, &outputs)?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete() -> BTreeMap<String, String> {
        [
            (
                outputs::WEBHOOK_BASE_URL,
                "https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/",
            ),
            (
                outputs::INGEST_QUEUE_URL,
                "https://sqs.eu-west-1.amazonaws.com/1/hp-IngestQueue-A",
            ),
            (
                outputs::DEAD_LETTER_QUEUE_URL,
                "https://sqs.eu-west-1.amazonaws.com/1/hp-Dlq-B",
            ),
            (outputs::SOURCES_TABLE, "hp-SourcesTable-C"),
            (outputs::SUBSCRIPTIONS_TABLE, "hp-SubscriptionsTable-D"),
            (outputs::DELIVERIES_TABLE, "hp-DeliveriesTable-E"),
            (outputs::DELIVERY_IDS_TABLE, "hp-DeliveryIdsTable-F"),
            (outputs::EVENTS_TABLE, "hp-EventsTable-G"),
            (outputs::BODIES_BUCKET, "hp-bodiesbucket-h"),
            ("ReceiverFunctionName", "hp-ReceiverFunction-I"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn every_output_lands_in_its_name() {
        let stack = from_outputs("hp", &complete()).expect("complete");
        assert_eq!(
            stack.webhook_base_url,
            "https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/"
        );
        assert_eq!(stack.names.sources_table, "hp-SourcesTable-C");
        assert_eq!(stack.names.subscriptions_table, "hp-SubscriptionsTable-D");
        assert_eq!(stack.names.deliveries_table, "hp-DeliveriesTable-E");
        assert_eq!(stack.names.delivery_ids_table, "hp-DeliveryIdsTable-F");
        assert_eq!(stack.names.events_table, "hp-EventsTable-G");
        assert_eq!(stack.names.bodies_bucket, "hp-bodiesbucket-h");
        assert!(stack.names.ingest_queue_url.ends_with("IngestQueue-A"));
        assert!(stack.names.dead_letter_queue_url.ends_with("Dlq-B"));
    }

    #[test]
    fn missing_outputs_are_named_with_what_to_do() {
        let mut outputs = complete();
        outputs.remove(outputs::EVENTS_TABLE);
        outputs.remove(outputs::BODIES_BUCKET);
        let message = from_outputs("hp", &outputs)
            .expect_err("incomplete")
            .to_string();
        assert!(message.contains("EventsTableName"), "{message}");
        assert!(message.contains("BodiesBucketName"), "{message}");
        assert!(message.contains("sam deploy"), "{message}");
    }

    #[test]
    fn the_template_declares_every_output_the_cli_reads() {
        let template = hookpost_local::template::BUNDLED;
        for name in [
            outputs::WEBHOOK_BASE_URL,
            outputs::INGEST_QUEUE_URL,
            outputs::DEAD_LETTER_QUEUE_URL,
            outputs::SOURCES_TABLE,
            outputs::SUBSCRIPTIONS_TABLE,
            outputs::DELIVERIES_TABLE,
            outputs::DELIVERY_IDS_TABLE,
            outputs::EVENTS_TABLE,
            outputs::BODIES_BUCKET,
        ] {
            assert!(
                template.contains(&format!("\n  {name}:\n")),
                "template.yaml has no output {name}"
            );
        }
    }
}
