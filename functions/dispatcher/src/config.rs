//! The dispatcher's configuration, read once at init from variables looked up by name: the
//! Lambda environment in the deployed function, the template's function environment in the local
//! stack. One parser for both, so the two cannot drift apart.

use std::time::Duration;

use hookpost_shared::config::{self, ConfigError};
use hookpost_shared::delivery::{RetrySchedule, TargetPolicy};

/// How long one attempt may take unless configured otherwise.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long delivery records are kept unless configured otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// How many deliveries of one batch run at once unless configured otherwise.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 32;
/// How long a warm function reuses a source's subscriptions unless configured otherwise.
pub const DEFAULT_SUBSCRIPTION_CACHE: Duration = Duration::from_secs(30);
/// How long a subscription may fail without a single success before it is disabled (5 days).
pub const DEFAULT_DISABLE_AFTER: Duration = Duration::from_secs(120 * 60 * 60);

/// The dispatcher's settings, read once at init.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a failed record waits before its next receive.
    pub retry: RetrySchedule,
    /// The most one HTTP attempt may take, connection and response body included.
    pub attempt_timeout: Duration,
    /// How long delivery records are kept (the DynamoDB TTL).
    pub retention: Duration,
    /// Which non-public addresses subscribers may be on (public ones always).
    pub targets: TargetPolicy,
    /// How many deliveries of one batch run at once.
    pub max_in_flight: usize,
    /// How long a source's subscriptions are reused across batches; zero reads them for every
    /// batch (a new or changed subscription is then seen at once).
    pub subscription_cache: Duration,
    /// How long a subscription may fail continuously before it is disabled.
    pub disable_after: Duration,
    /// The ingest queue's `maxReceiveCount`, when known: the last receive is not delayed, since
    /// SQS dead-letters the record on its next receive anyway.
    pub max_receive_count: Option<u32>,
    /// The `Function` dimension of the embedded metrics; `None` prints none.
    pub metrics_function: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            retry: RetrySchedule::default(),
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            retention: DEFAULT_RETENTION,
            targets: TargetPolicy::PublicOnly,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            subscription_cache: DEFAULT_SUBSCRIPTION_CACHE,
            disable_after: DEFAULT_DISABLE_AFTER,
            max_receive_count: None,
            metrics_function: None,
        }
    }
}

impl Config {
    /// [`Config::from_lookup`] over the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(config::env)
    }

    /// Reads `HOOKPOST_RETRY_DELAYS`, `HOOKPOST_ATTEMPT_TIMEOUT_SECS`,
    /// `HOOKPOST_DELIVERY_RETENTION_DAYS`, `HOOKPOST_ALLOWED_PRIVATE_NETWORKS` (CIDR list),
    /// `HOOKPOST_ALLOW_PRIVATE_TARGETS` (`true`/`false`; `true` opens every private range),
    /// `HOOKPOST_MAX_IN_FLIGHT`, `HOOKPOST_SUBSCRIPTION_CACHE_SECS` (0 = no cache),
    /// `HOOKPOST_DISABLE_AFTER_HOURS` and `HOOKPOST_MAX_RECEIVE_COUNT` (0 = unknown) through
    /// `lookup`; unset ones take the defaults, invalid ones are errors. Metrics are printed under
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let lookup = &lookup;
        let defaults = Self::default();
        let timeout_secs = positive(
            "HOOKPOST_ATTEMPT_TIMEOUT_SECS",
            config::optional_in(
                lookup,
                "HOOKPOST_ATTEMPT_TIMEOUT_SECS",
                defaults.attempt_timeout.as_secs(),
            )?,
        )?;
        let retention_days = positive(
            "HOOKPOST_DELIVERY_RETENTION_DAYS",
            config::optional_in(
                lookup,
                "HOOKPOST_DELIVERY_RETENTION_DAYS",
                defaults.retention.as_secs() / 86_400,
            )?,
        )?;
        let max_in_flight = positive(
            "HOOKPOST_MAX_IN_FLIGHT",
            config::optional_in(lookup, "HOOKPOST_MAX_IN_FLIGHT", defaults.max_in_flight)?,
        )?;
        let cache_secs = config::optional_in(
            lookup,
            "HOOKPOST_SUBSCRIPTION_CACHE_SECS",
            defaults.subscription_cache.as_secs(),
        )?;
        let disable_after_hours = positive(
            "HOOKPOST_DISABLE_AFTER_HOURS",
            config::optional_in(
                lookup,
                "HOOKPOST_DISABLE_AFTER_HOURS",
                defaults.disable_after.as_secs() / 3600,
            )?,
        )?;
        let max_receive_count =
            match config::optional_in::<u32>(lookup, "HOOKPOST_MAX_RECEIVE_COUNT", 0)? {
                0 => None,
                count => Some(count),
            };
        Ok(Self {
            retry: config::optional_in(lookup, "HOOKPOST_RETRY_DELAYS", defaults.retry)?,
            attempt_timeout: Duration::from_secs(timeout_secs),
            retention: Duration::from_secs(retention_days.saturating_mul(86_400)),
            targets: targets(lookup)?,
            max_in_flight,
            subscription_cache: Duration::from_secs(cache_secs),
            disable_after: Duration::from_secs(disable_after_hours.saturating_mul(3600)),
            max_receive_count,
            metrics_function: Some(config::optional_in(
                lookup,
                "AWS_LAMBDA_FUNCTION_NAME",
                "hookpost-dispatcher".to_owned(),
            )?),
        })
    }
}

/// `HOOKPOST_ALLOW_PRIVATE_TARGETS=true` opens every private range (the deprecated switch);
/// otherwise `HOOKPOST_ALLOWED_PRIVATE_NETWORKS` names the networks opened, none by default.
fn targets(lookup: &impl Fn(&str) -> Option<String>) -> Result<TargetPolicy, ConfigError> {
    if config::optional_in(lookup, "HOOKPOST_ALLOW_PRIVATE_TARGETS", false)? {
        return Ok(TargetPolicy::AllPrivate);
    }
    let list = lookup("HOOKPOST_ALLOWED_PRIVATE_NETWORKS").unwrap_or_default();
    TargetPolicy::from_networks(&list).map_err(|reason| ConfigError::Invalid {
        name: "HOOKPOST_ALLOWED_PRIVATE_NETWORKS",
        reason,
    })
}

fn positive<T: Default + PartialEq>(name: &'static str, value: T) -> Result<T, ConfigError> {
    if value == T::default() {
        return Err(ConfigError::Invalid {
            name,
            reason: "must be greater than zero".to_owned(),
        });
    }
    Ok(value)
}

/// The stack's resources the dispatcher works on, by physical name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub subscriptions_table: String,
    pub deliveries_table: String,
    /// The queue records come from, whose visibility delays the retries.
    pub ingest_queue_url: String,
    /// Where bodies too large for a message are stored aside.
    pub bodies_bucket: String,
    pub events_table: String,
    /// Where a record that can never be delivered goes on its first receive; unset in a stack
    /// deployed before this was passed, where such records wait out the queue's receives.
    pub dead_letter_queue_url: Option<String>,
}

impl Resources {
    /// [`Resources::from_lookup`] over the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(config::env)
    }

    /// Reads `HOOKPOST_SUBSCRIPTIONS_TABLE`, `HOOKPOST_DELIVERIES_TABLE`,
    /// `HOOKPOST_INGEST_QUEUE_URL`, `HOOKPOST_BODIES_BUCKET` and `HOOKPOST_EVENTS_TABLE` through
    /// `lookup`; each must be set. `HOOKPOST_DEAD_LETTER_QUEUE_URL` is optional.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let lookup = &lookup;
        Ok(Self {
            subscriptions_table: config::required_in(lookup, "HOOKPOST_SUBSCRIPTIONS_TABLE")?,
            deliveries_table: config::required_in(lookup, "HOOKPOST_DELIVERIES_TABLE")?,
            ingest_queue_url: config::required_in(lookup, "HOOKPOST_INGEST_QUEUE_URL")?,
            bodies_bucket: config::required_in(lookup, "HOOKPOST_BODIES_BUCKET")?,
            events_table: config::required_in(lookup, "HOOKPOST_EVENTS_TABLE")?,
            dead_letter_queue_url: lookup("HOOKPOST_DEAD_LETTER_QUEUE_URL")
                .filter(|url| !url.trim().is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_allowed_private_networks_are_read_and_a_bad_one_is_named() {
        let config = Config::from_lookup(vars(&[(
            "HOOKPOST_ALLOWED_PRIVATE_NETWORKS",
            "10.0.0.0/8,fd12::/16",
        )]))
        .expect("valid");
        assert_eq!(
            config.targets,
            TargetPolicy::from_networks("10.0.0.0/8,fd12::/16").expect("valid")
        );
        let err = Config::from_lookup(vars(&[("HOOKPOST_ALLOWED_PRIVATE_NETWORKS", "10.0.0.0")]))
            .expect_err("not CIDR");
        assert!(
            err.to_string()
                .contains("HOOKPOST_ALLOWED_PRIVATE_NETWORKS"),
            "{err}"
        );
        // The deprecated switch opens everything the list could.
        let both = Config::from_lookup(vars(&[
            ("HOOKPOST_ALLOWED_PRIVATE_NETWORKS", "10.0.0.0/8"),
            ("HOOKPOST_ALLOW_PRIVATE_TARGETS", "true"),
        ]))
        .expect("valid");
        assert_eq!(both.targets, TargetPolicy::AllPrivate);
    }

    #[test]
    fn unset_variables_take_the_defaults() {
        let config = Config::from_lookup(vars(&[])).expect("valid");
        let defaults = Config::default();
        assert_eq!(config.retry, defaults.retry);
        assert_eq!(config.attempt_timeout, DEFAULT_ATTEMPT_TIMEOUT);
        assert_eq!(config.retention, DEFAULT_RETENTION);
        assert_eq!(config.targets, TargetPolicy::PublicOnly);
        assert_eq!(config.max_in_flight, DEFAULT_MAX_IN_FLIGHT);
        assert_eq!(config.subscription_cache, DEFAULT_SUBSCRIPTION_CACHE);
        assert_eq!(config.disable_after, DEFAULT_DISABLE_AFTER);
        assert_eq!(config.max_receive_count, None);
        assert_eq!(
            config.metrics_function.as_deref(),
            Some("hookpost-dispatcher")
        );
    }

    #[test]
    fn every_variable_is_read_in_its_unit() {
        let config = Config::from_lookup(vars(&[
            ("HOOKPOST_RETRY_DELAYS", "1s,2s"),
            ("HOOKPOST_ATTEMPT_TIMEOUT_SECS", "7"),
            ("HOOKPOST_DELIVERY_RETENTION_DAYS", "2"),
            ("HOOKPOST_ALLOW_PRIVATE_TARGETS", "true"),
            ("HOOKPOST_MAX_IN_FLIGHT", "4"),
            ("HOOKPOST_SUBSCRIPTION_CACHE_SECS", "0"),
            ("HOOKPOST_DISABLE_AFTER_HOURS", "36"),
            ("HOOKPOST_MAX_RECEIVE_COUNT", "5"),
            ("AWS_LAMBDA_FUNCTION_NAME", "stack-Dispatcher"),
        ]))
        .expect("valid");
        assert_eq!(config.retry, "1s,2s".parse().expect("schedule"));
        assert_eq!(config.attempt_timeout, Duration::from_secs(7));
        assert_eq!(config.retention, Duration::from_secs(2 * 86_400));
        assert_eq!(config.targets, TargetPolicy::AllPrivate);
        assert_eq!(config.max_in_flight, 4);
        assert_eq!(config.subscription_cache, Duration::ZERO);
        assert_eq!(config.disable_after, Duration::from_secs(36 * 3600));
        assert_eq!(config.max_receive_count, Some(5));
        assert_eq!(config.metrics_function.as_deref(), Some("stack-Dispatcher"));
    }

    #[test]
    fn a_zero_where_zero_makes_no_sense_is_refused_by_name() {
        for name in [
            "HOOKPOST_ATTEMPT_TIMEOUT_SECS",
            "HOOKPOST_DELIVERY_RETENTION_DAYS",
            "HOOKPOST_MAX_IN_FLIGHT",
            "HOOKPOST_DISABLE_AFTER_HOURS",
        ] {
            let err = Config::from_lookup(vars(&[(name, "0")])).expect_err(name);
            assert!(
                matches!(err, ConfigError::Invalid { name: n, .. } if n == name),
                "{err}"
            );
        }
        let unknown =
            Config::from_lookup(vars(&[("HOOKPOST_MAX_RECEIVE_COUNT", "0")])).expect("0 = unknown");
        assert_eq!(unknown.max_receive_count, None);
    }

    #[test]
    fn an_unreadable_value_is_an_error_not_a_default() {
        for (name, value) in [
            ("HOOKPOST_RETRY_DELAYS", "soon"),
            ("HOOKPOST_ALLOW_PRIVATE_TARGETS", "yes"),
            ("HOOKPOST_ATTEMPT_TIMEOUT_SECS", "-1"),
        ] {
            let err = Config::from_lookup(vars(&[(name, value)])).expect_err(name);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn every_resource_must_be_named() {
        let all = [
            ("HOOKPOST_SUBSCRIPTIONS_TABLE", "subs"),
            ("HOOKPOST_DELIVERIES_TABLE", "deliveries"),
            ("HOOKPOST_INGEST_QUEUE_URL", "https://sqs/ingest"),
            ("HOOKPOST_BODIES_BUCKET", "bodies"),
            ("HOOKPOST_EVENTS_TABLE", "events"),
        ];
        assert_eq!(
            Resources::from_lookup(vars(&all)).expect("complete"),
            Resources {
                subscriptions_table: "subs".to_owned(),
                deliveries_table: "deliveries".to_owned(),
                ingest_queue_url: "https://sqs/ingest".to_owned(),
                bodies_bucket: "bodies".to_owned(),
                events_table: "events".to_owned(),
                dead_letter_queue_url: None,
            }
        );
        let mut with_dlq = all.to_vec();
        with_dlq.push(("HOOKPOST_DEAD_LETTER_QUEUE_URL", "https://sqs/dlq"));
        assert_eq!(
            Resources::from_lookup(vars(&with_dlq))
                .expect("complete")
                .dead_letter_queue_url
                .as_deref(),
            Some("https://sqs/dlq"),
            "optional, read when set"
        );
        for (i, (name, _)) in all.iter().enumerate() {
            let mut some = all.to_vec();
            some.remove(i);
            let err = Resources::from_lookup(vars(&some)).expect_err(name);
            assert!(
                matches!(err, ConfigError::Missing { name: n } if n == *name),
                "{err}"
            );
        }
    }
}
