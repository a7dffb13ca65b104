//! Reads `template.yaml`, the deployed contract, so the local stack creates the same queues (with
//! the same redrive policy) and tables (with the same keys and TTL) as `sam deploy` does.
//!
//! Only what queue and table properties use is understood: literals, `!Ref Parameter`,
//! `!GetAtt Resource.Arn`, and `!If [Condition, value, value]` (either value may be
//! `!Ref AWS::NoValue`) on a condition `!Equals [value, value]`. Anything else is an error naming
//! the property, never a silent guess.

use std::collections::BTreeMap;

use serde_norway::{Mapping, Value};

/// The template this binary was built with: the single source of truth for the local stack.
pub const BUNDLED: &str = include_str!("../../template.yaml");

/// Logical ids the handlers are wired to.
pub mod ids {
    pub const SOURCES_TABLE: &str = "SourcesTable";
    pub const SUBSCRIPTIONS_TABLE: &str = "SubscriptionsTable";
    pub const DELIVERIES_TABLE: &str = "DeliveriesTable";
    pub const DELIVERY_IDS_TABLE: &str = "DeliveryIdsTable";
    pub const EVENTS_TABLE: &str = "EventsTable";
    pub const BODIES_BUCKET: &str = "BodiesBucket";
    pub const INGEST_QUEUE: &str = "IngestQueue";
    pub const DEAD_LETTER_QUEUE: &str = "DeadLetterQueue";
    pub const DISPATCHER_FUNCTION: &str = "DispatcherFunction";
}

/// A template that cannot be turned into local resources.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("template.yaml: {0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> TemplateError {
    TemplateError::Invalid(message.into())
}

/// A resolved property value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resolved {
    Text(String),
    /// `!GetAtt X.Arn`: the ARN of resource X, known once X exists.
    ArnOf(String),
    /// `!Ref AWS::NoValue`: the property is left out.
    NoValue,
}

/// An SQS queue to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub logical_id: String,
    /// SQS attributes other than the redrive policy (`VisibilityTimeout`, `MessageRetentionPeriod`…).
    pub attributes: BTreeMap<String, String>,
    pub redrive: Option<Redrive>,
}

impl QueueSpec {
    /// Whether the queue is FIFO (ordered mode); SQS then wants a name ending in `.fifo`.
    pub fn is_fifo(&self) -> bool {
        self.attributes.get("FifoQueue").map(String::as_str) == Some("true")
    }
}

/// A queue's `RedrivePolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    /// Logical id of the dead-letter queue.
    pub dead_letter_queue: String,
    pub max_receive_count: u32,
}

/// A DynamoDB table to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub logical_id: String,
    /// (name, type) pairs: `S`, `N` or `B`.
    pub attributes: Vec<(String, String)>,
    /// (name, `HASH` or `RANGE`) pairs.
    pub keys: Vec<(String, String)>,
    pub ttl_attribute: Option<String>,
    /// Global secondary indexes, each projecting every attribute.
    pub indexes: Vec<IndexSpec>,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: String,
    /// (name, `HASH` or `RANGE`) pairs.
    pub keys: Vec<(String, String)>,
}

/// How Lambda's SQS event source mapping feeds the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSourceSpec {
    pub batch_size: u32,
    pub batching_window_seconds: u64,
    pub function_timeout_seconds: u64,
    /// `ScalingConfig.MaximumConcurrency`: the most invocations at once (1 when absent).
    pub max_concurrency: u32,
}

/// Everything the local stack needs from the template, with parameters resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSpec {
    /// Queues in creation order: a dead-letter queue before the queue that names it.
    pub queues: Vec<QueueSpec>,
    pub tables: Vec<TableSpec>,
    /// Logical ids of the S3 buckets.
    pub buckets: Vec<String>,
    pub event_source: EventSourceSpec,
    /// Every parameter's value (overrides applied), e.g. `RetryDelays`.
    pub parameters: BTreeMap<String, String>,
    /// The dispatcher function's environment, as [`function_environment`] gives it.
    pub dispatcher_environment: BTreeMap<String, String>,
}

/// Parses `text` and resolves it with parameter `overrides` (name → value).
pub fn stack_spec(
    text: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<StackSpec, TemplateError> {
    let doc: Value = serde_norway::from_str(text)?;
    let parameters = parameters(&doc, overrides)?;
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| invalid("no Resources section"))?;
    let ctx = Resolver {
        parameters: &parameters,
        conditions: doc.get("Conditions").and_then(Value::as_mapping),
    };

    let mut queues = Vec::new();
    let mut tables = Vec::new();
    let mut buckets = Vec::new();
    for (id, resource) in resources {
        let id = id
            .as_str()
            .ok_or_else(|| invalid("a resource id is not a string"))?;
        let props = resource.get("Properties").and_then(Value::as_mapping);
        match resource.get("Type").and_then(Value::as_str) {
            Some("AWS::SQS::Queue") => queues.push(queue_spec(&ctx, id, props)?),
            Some("AWS::DynamoDB::Table") => tables.push(table_spec(&ctx, id, props)?),
            Some("AWS::S3::Bucket") => buckets.push(id.to_owned()),
            _ => {}
        }
    }
    // Dead-letter queues first, so their ARNs exist when a redrive policy names them.
    queues.sort_by_key(|q| q.redrive.is_some());

    let event_source = event_source(&ctx, resources)?;
    let dispatcher_environment = environment(&ctx, &doc, ids::DISPATCHER_FUNCTION)?;
    Ok(StackSpec {
        queues,
        tables,
        buckets,
        event_source,
        parameters,
        dispatcher_environment,
    })
}

/// The `Environment.Variables` of function `function_id` (over `Globals.Function`'s), with
/// `!Ref Parameter` values taken from `parameters`, e.g. [`StackSpec::parameters`].
///
/// A variable that names a resource (`!Ref SubscriptionsTable`) is left out: its value is the
/// resource's physical name, which only the caller knows once the resource exists. A variable set
/// to `!Ref AWS::NoValue` is left out too, as CloudFormation does.
pub fn function_environment(
    text: &str,
    function_id: &str,
    parameters: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, TemplateError> {
    let doc: Value = serde_norway::from_str(text)?;
    let ctx = Resolver {
        parameters,
        conditions: doc.get("Conditions").and_then(Value::as_mapping),
    };
    environment(&ctx, &doc, function_id)
}

fn environment(
    ctx: &Resolver<'_>,
    doc: &Value,
    function_id: &str,
) -> Result<BTreeMap<String, String>, TemplateError> {
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| invalid("no Resources section"))?;
    let function = resources
        .get(function_id)
        .ok_or_else(|| invalid(format!("no {function_id} resource")))?;
    fn variables(function: Option<&Value>) -> Option<&Mapping> {
        function
            .and_then(|f| f.get("Environment"))
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_mapping)
    }
    let globals = variables(doc.get("Globals").and_then(|g| g.get("Function")));
    let own = variables(function.get("Properties"));
    let mut environment = BTreeMap::new();
    // SAM merges the global variables with the function's own, the function's winning.
    for (name, value) in globals.into_iter().chain(own).flatten() {
        let name = name
            .as_str()
            .ok_or_else(|| invalid(format!("{function_id}: a variable name is not a string")))?;
        let path = format!("{function_id}.Environment.Variables.{name}");
        if let Value::Tagged(tagged) = value
            && tagged.tag == "Ref"
            && let Some(resource) = tagged.value.as_str()
            && resources.contains_key(resource)
        {
            environment.remove(name);
            continue;
        }
        match ctx.resolve(value, &path)? {
            Resolved::Text(text) => {
                environment.insert(name.to_owned(), text);
            }
            Resolved::NoValue => {
                environment.remove(name);
            }
            Resolved::ArnOf(_) => {
                return Err(invalid(format!("{path}: expected a value, not an ARN")));
            }
        }
    }
    Ok(environment)
}

fn parameters(
    doc: &Value,
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, TemplateError> {
    let mut values = BTreeMap::new();
    if let Some(params) = doc.get("Parameters").and_then(Value::as_mapping) {
        for (name, spec) in params {
            let name = name
                .as_str()
                .ok_or_else(|| invalid("a parameter name is not a string"))?;
            if let Some(default) = spec.get("Default").and_then(scalar) {
                values.insert(name.to_owned(), default);
            }
        }
    }
    for (name, value) in overrides {
        if !values.contains_key(name) {
            return Err(invalid(format!("no parameter named {name} to override")));
        }
        values.insert(name.clone(), value.clone());
    }
    Ok(values)
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

struct Resolver<'a> {
    parameters: &'a BTreeMap<String, String>,
    /// The template's `Conditions`, evaluated when an `!If` names one.
    conditions: Option<&'a Mapping>,
}

impl Resolver<'_> {
    fn resolve(&self, value: &Value, path: &str) -> Result<Resolved, TemplateError> {
        if let Some(s) = scalar(value) {
            return Ok(Resolved::Text(s));
        }
        let Value::Tagged(tagged) = value else {
            return Err(invalid(format!("{path}: expected a plain value")));
        };
        if tagged.tag == "If" {
            return match tagged.value.as_sequence().map(Vec::as_slice) {
                Some([condition, then, otherwise]) => {
                    let name = condition.as_str().unwrap_or_default();
                    let chosen = if self.condition(name, path)? {
                        then
                    } else {
                        otherwise
                    };
                    self.resolve(chosen, path)
                }
                _ => Err(invalid(format!(
                    "{path}: !If takes [Condition, value, value]"
                ))),
            };
        }
        let arg = tagged.value.as_str().unwrap_or_default();
        if tagged.tag == "Ref" && arg == "AWS::NoValue" {
            return Ok(Resolved::NoValue);
        }
        if tagged.tag == "Ref" {
            return self
                .parameters
                .get(arg)
                .cloned()
                .map(Resolved::Text)
                .ok_or_else(|| {
                    invalid(format!(
                        "{path}: !Ref {arg} names no parameter with a value"
                    ))
                });
        }
        if tagged.tag == "GetAtt"
            && let Some(resource) = arg.strip_suffix(".Arn")
        {
            return Ok(Resolved::ArnOf(resource.to_owned()));
        }
        Err(invalid(format!(
            "{path}: only literals, !Ref Parameter, !GetAtt X.Arn and !If are understood locally"
        )))
    }

    /// The condition `name`, which must be `!Equals [value, value]`.
    fn condition(&self, name: &str, path: &str) -> Result<bool, TemplateError> {
        let path = format!("{path}: condition {name}");
        let Some(Value::Tagged(tagged)) = self.conditions.and_then(|c| c.get(name)) else {
            return Err(invalid(format!("{path} is not an !Equals in Conditions")));
        };
        match (
            tagged.tag == "Equals",
            tagged.value.as_sequence().map(Vec::as_slice),
        ) {
            (true, Some([left, right])) => Ok(self.text(left, &path)? == self.text(right, &path)?),
            _ => Err(invalid(format!(
                "{path}: only !Equals [value, value] is understood locally"
            ))),
        }
    }

    fn text(&self, value: &Value, path: &str) -> Result<String, TemplateError> {
        match self.resolve(value, path)? {
            Resolved::Text(s) => Ok(s),
            Resolved::ArnOf(_) => Err(invalid(format!("{path}: expected a value, not an ARN"))),
            Resolved::NoValue => Err(invalid(format!("{path}: expected a value"))),
        }
    }

    fn field(&self, map: &Value, key: &str, path: &str) -> Result<String, TemplateError> {
        let value = map
            .get(key)
            .ok_or_else(|| invalid(format!("{path}.{key} is missing")))?;
        self.text(value, &format!("{path}.{key}"))
    }
}

/// SQS attributes that CloudFormation properties map onto one to one.
const QUEUE_ATTRIBUTES: &[&str] = &[
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

fn queue_spec(
    ctx: &Resolver<'_>,
    id: &str,
    props: Option<&Mapping>,
) -> Result<QueueSpec, TemplateError> {
    let mut attributes = BTreeMap::new();
    let mut redrive = None;
    for (key, value) in props.into_iter().flatten() {
        let key = key.as_str().unwrap_or_default();
        let path = format!("{id}.Properties.{key}");
        if QUEUE_ATTRIBUTES.contains(&key) {
            match ctx.resolve(value, &path)? {
                Resolved::Text(text) => {
                    attributes.insert(key.to_owned(), text);
                }
                Resolved::NoValue => {}
                Resolved::ArnOf(_) => {
                    return Err(invalid(format!("{path}: expected a value, not an ARN")));
                }
            }
        } else if key == "RedrivePolicy" {
            let dlq = match ctx.resolve(
                value
                    .get("deadLetterTargetArn")
                    .ok_or_else(|| invalid(format!("{path}.deadLetterTargetArn is missing")))?,
                &path,
            )? {
                Resolved::ArnOf(resource) => resource,
                Resolved::Text(_) | Resolved::NoValue => {
                    return Err(invalid(format!(
                        "{path}.deadLetterTargetArn must be !GetAtt Queue.Arn"
                    )));
                }
            };
            let count = ctx.field(value, "maxReceiveCount", &path)?;
            redrive = Some(Redrive {
                dead_letter_queue: dlq,
                max_receive_count: count.parse().map_err(|_| {
                    invalid(format!("{path}.maxReceiveCount `{count}` is not a count"))
                })?,
            });
        }
    }
    Ok(QueueSpec {
        logical_id: id.to_owned(),
        attributes,
        redrive,
    })
}

fn table_spec(
    ctx: &Resolver<'_>,
    id: &str,
    props: Option<&Mapping>,
) -> Result<TableSpec, TemplateError> {
    let props = props.ok_or_else(|| invalid(format!("{id} has no Properties")))?;
    let list =
        |key: &str, name: &str, kind: &str| -> Result<Vec<(String, String)>, TemplateError> {
            let path = format!("{id}.Properties.{key}");
            props
                .get(key)
                .and_then(Value::as_sequence)
                .ok_or_else(|| invalid(format!("{path} is missing")))?
                .iter()
                .map(|entry| {
                    Ok((
                        ctx.field(entry, name, &path)?,
                        ctx.field(entry, kind, &path)?,
                    ))
                })
                .collect()
        };
    let attributes = list("AttributeDefinitions", "AttributeName", "AttributeType")?;
    let keys = list("KeySchema", "AttributeName", "KeyType")?;
    let mut indexes = Vec::new();
    for (i, index) in props
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("{id}.Properties.GlobalSecondaryIndexes[{i}]");
        let projection = index
            .get("Projection")
            .map(|p| ctx.field(p, "ProjectionType", &path))
            .transpose()?;
        if projection.as_deref() != Some("ALL") {
            return Err(invalid(format!(
                "{path}: only Projection.ProjectionType ALL is understood locally"
            )));
        }
        let keys = index
            .get("KeySchema")
            .and_then(Value::as_sequence)
            .ok_or_else(|| invalid(format!("{path}.KeySchema is missing")))?
            .iter()
            .map(|k| {
                Ok((
                    ctx.field(k, "AttributeName", &path)?,
                    ctx.field(k, "KeyType", &path)?,
                ))
            })
            .collect::<Result<Vec<_>, TemplateError>>()?;
        indexes.push(IndexSpec {
            name: ctx.field(index, "IndexName", &path)?,
            keys,
        });
    }
    let ttl_attribute = match props.get("TimeToLiveSpecification") {
        Some(ttl) => {
            let path = format!("{id}.Properties.TimeToLiveSpecification");
            let enabled = ctx.field(ttl, "Enabled", &path)?;
            (enabled == "true")
                .then(|| ctx.field(ttl, "AttributeName", &path))
                .transpose()?
        }
        None => None,
    };
    Ok(TableSpec {
        logical_id: id.to_owned(),
        attributes,
        keys,
        ttl_attribute,
        indexes,
    })
}

fn event_source(ctx: &Resolver<'_>, resources: &Mapping) -> Result<EventSourceSpec, TemplateError> {
    let id = ids::DISPATCHER_FUNCTION;
    let function = resources
        .get(id)
        .ok_or_else(|| invalid(format!("no {id} resource")))?;
    let props = function
        .get("Properties")
        .ok_or_else(|| invalid(format!("{id} has no Properties")))?;
    let sqs = props
        .get("Events")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .map(|(_, event)| event)
        .find(|event| event.get("Type").and_then(Value::as_str) == Some("SQS"))
        .and_then(|event| event.get("Properties"))
        .ok_or_else(|| invalid(format!("{id} has no SQS event")))?;
    let path = format!("{id}.Events");
    let number = |value: String, what: &str| {
        value
            .parse::<u64>()
            .map_err(|_| invalid(format!("{path}: {what} `{value}` is not a whole number")))
    };
    let batch_size = number(ctx.field(sqs, "BatchSize", &path)?, "BatchSize")?;
    let window = match sqs.get("MaximumBatchingWindowInSeconds") {
        Some(v) => number(ctx.text(v, &path)?, "MaximumBatchingWindowInSeconds")?,
        None => 0,
    };
    let timeout = number(ctx.field(props, "Timeout", id)?, "Timeout")?;
    let concurrency = match sqs
        .get("ScalingConfig")
        .and_then(|scaling| scaling.get("MaximumConcurrency"))
    {
        Some(v) => number(ctx.text(v, &path)?, "MaximumConcurrency")?,
        None => 1,
    };
    Ok(EventSourceSpec {
        batch_size: u32::try_from(batch_size).map_err(|_| invalid("BatchSize is too large"))?,
        batching_window_seconds: window,
        function_timeout_seconds: timeout,
        max_concurrency: u32::try_from(concurrency)
            .map_err(|_| invalid("MaximumConcurrency is too large"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled() -> StackSpec {
        stack_spec(BUNDLED, &BTreeMap::new()).expect("the bundled template resolves")
    }

    #[test]
    fn the_bundled_template_gives_both_queues_with_the_redrive_policy() {
        let spec = bundled();
        let ids: Vec<_> = spec.queues.iter().map(|q| q.logical_id.as_str()).collect();
        assert_eq!(ids, [ids::DEAD_LETTER_QUEUE, ids::INGEST_QUEUE]);
        let ingest = &spec.queues[1];
        let redrive = ingest.redrive.as_ref().expect("redrive policy");
        assert_eq!(redrive.dead_letter_queue, ids::DEAD_LETTER_QUEUE);
        assert_eq!(
            redrive.max_receive_count.to_string(),
            spec.parameters["MaxReceiveCount"]
        );
        let visibility: u64 = ingest.attributes["VisibilityTimeout"]
            .parse()
            .expect("number");
        assert!(visibility >= 6 * spec.event_source.function_timeout_seconds);
    }

    #[test]
    fn the_bundled_template_gives_the_three_tables_with_their_keys() {
        let spec = bundled();
        let table = |id: &str| {
            spec.tables
                .iter()
                .find(|t| t.logical_id == id)
                .unwrap_or_else(|| panic!("{id}"))
        };
        assert_eq!(
            table(ids::SOURCES_TABLE).keys,
            [("source_id".to_owned(), "HASH".to_owned())]
        );
        assert_eq!(table(ids::SUBSCRIPTIONS_TABLE).keys.len(), 2);
        assert_eq!(
            table(ids::DELIVERIES_TABLE).ttl_attribute.as_deref(),
            Some("expires_at")
        );
        let events = table(ids::EVENTS_TABLE);
        assert_eq!(events.ttl_attribute.as_deref(), Some("expires_at"));
        assert_eq!(
            events.indexes,
            [IndexSpec {
                name: hookpost_shared::aws::EVENTS_BY_SOURCE_INDEX.to_owned(),
                keys: vec![
                    ("source_id".to_owned(), "HASH".to_owned()),
                    ("received_at".to_owned(), "RANGE".to_owned())
                ],
            }]
        );
    }

    #[test]
    fn parameter_overrides_reach_the_redrive_policy() {
        let overrides = BTreeMap::from([("MaxReceiveCount".to_owned(), "3".to_owned())]);
        let spec = stack_spec(BUNDLED, &overrides).expect("resolves");
        let redrive = spec.queues[1].redrive.as_ref().expect("redrive");
        assert_eq!(redrive.max_receive_count, 3);
        let unknown = BTreeMap::from([("Nope".to_owned(), "1".to_owned())]);
        assert!(stack_spec(BUNDLED, &unknown).is_err());
    }

    #[test]
    fn by_default_both_queues_are_standard_queues() {
        let spec = bundled();
        for queue in &spec.queues {
            assert!(!queue.is_fifo(), "{}", queue.logical_id);
            assert!(
                !queue.attributes.contains_key("ContentBasedDeduplication"),
                "{queue:?}"
            );
        }
    }

    #[test]
    fn ordered_delivery_makes_both_queues_high_throughput_fifo_queues() {
        let overrides = BTreeMap::from([("OrderedDelivery".to_owned(), "true".to_owned())]);
        let spec = stack_spec(BUNDLED, &overrides).expect("resolves");
        for queue in &spec.queues {
            assert!(queue.is_fifo(), "{}", queue.logical_id);
            let attribute = |name: &str| queue.attributes.get(name).map(String::as_str);
            assert_eq!(attribute("ContentBasedDeduplication"), Some("false"));
            assert_eq!(attribute("DeduplicationScope"), Some("messageGroup"));
            assert_eq!(attribute("FifoThroughputLimit"), Some("perMessageGroupId"));
        }
        assert!(spec.queues[1].redrive.is_some());
    }

    #[test]
    fn the_dispatcher_environment_holds_the_parameters_it_refers_to() {
        let overrides = BTreeMap::from([("RetryDelays".to_owned(), "1s,2s".to_owned())]);
        let spec = stack_spec(BUNDLED, &overrides).expect("resolves");
        let environment = &spec.dispatcher_environment;
        assert_eq!(environment["HOOKPOST_RETRY_DELAYS"], "1s,2s");
        assert_eq!(
            environment["HOOKPOST_MAX_RECEIVE_COUNT"],
            spec.parameters["MaxReceiveCount"]
        );
        assert_eq!(
            environment["HOOKPOST_ATTEMPT_TIMEOUT_SECS"],
            spec.parameters["AttemptTimeoutSeconds"]
        );
        // Resources are named by the caller, once they exist.
        assert!(!environment.contains_key("HOOKPOST_SUBSCRIPTIONS_TABLE"));
        assert_eq!(
            function_environment(BUNDLED, ids::DISPATCHER_FUNCTION, &spec.parameters)
                .expect("resolves"),
            *environment
        );
    }

    #[test]
    fn the_bundled_dispatcher_environment_is_a_valid_dispatcher_configuration() {
        let spec = bundled();
        let environment = &spec.dispatcher_environment;
        let config =
            hookpost_dispatcher::Config::from_lookup(|name| environment.get(name).cloned())
                .expect("valid");
        assert_eq!(
            config.retry,
            spec.parameters["RetryDelays"].parse().expect("schedule")
        );
        let hours: u64 = spec.parameters["DisableAfterHours"].parse().expect("hours");
        assert_eq!(config.disable_after.as_secs(), hours * 3600);
    }

    #[test]
    fn a_functions_own_variables_win_over_the_global_ones_and_no_value_leaves_one_out() {
        let text = r#"
Parameters:
  Level:
    Type: String
    Default: info
Globals:
  Function:
    Environment:
      Variables:
        SHARED: global
        LEVEL: !Ref Level
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          SHARED: own
          TABLE: !Ref Table
          GONE: !Ref AWS::NoValue
          COUNT: 3
"#;
        let parameters = BTreeMap::from([("Level".to_owned(), "debug".to_owned())]);
        let environment = function_environment(text, "Fn", &parameters).expect("resolves");
        assert_eq!(
            environment,
            BTreeMap::from([
                ("COUNT".to_owned(), "3".to_owned()),
                ("LEVEL".to_owned(), "debug".to_owned()),
                ("SHARED".to_owned(), "own".to_owned()),
            ])
        );
    }

    #[test]
    fn an_environment_variable_the_template_cannot_resolve_is_named() {
        let text = r#"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          URL: !Sub "https://${AWS::Region}.example"
"#;
        let err = function_environment(text, "Fn", &BTreeMap::new()).expect_err("refused");
        assert!(
            err.to_string().contains("Fn.Environment.Variables.URL"),
            "{err}"
        );
        let missing = function_environment(text, "Other", &BTreeMap::new()).expect_err("none");
        assert!(missing.to_string().contains("Other"), "{missing}");
    }

    #[test]
    fn a_condition_other_than_equals_is_named_not_guessed() {
        let text = r#"
Conditions:
  Odd: !Not [!Equals ["a", "b"]]
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: !If [Odd, true, !Ref AWS::NoValue]
"#;
        let err = stack_spec(text, &BTreeMap::new()).expect_err("refused");
        let message = err.to_string();
        assert!(message.contains("Q.Properties.FifoQueue"), "{message}");
        assert!(message.contains("condition Odd"), "{message}");
    }

    #[test]
    fn unsupported_intrinsics_are_named_not_guessed() {
        let text = r#"
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Sub "${X}"
"#;
        let err = stack_spec(text, &BTreeMap::new()).expect_err("refused");
        assert!(
            err.to_string().contains("Q.Properties.VisibilityTimeout"),
            "{err}"
        );
    }
}
