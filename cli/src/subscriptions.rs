//! `hookpost subscriptions`: where a source's events are delivered, their state and last
//! delivery, and their signing keys (`whsec_` secrets for `v1`, ed25519 keys for `v1a`, of which
//! only the `whpk_` public key is ever printed).

use std::collections::BTreeMap;

use clap::Subcommand;
use hookpost_operations::subscriptions::{
    CreatedSubscription, NewSubscription, RateView, SubscriptionChanges, SubscriptionRotate,
    SubscriptionView, checked_rate,
};
use hookpost_operations::{Operations, PageRequest};
use hookpost_shared::secret::{SignatureScheme, SignatureSchemes};
use hookpost_shared::source::SourceId;
use serde::Serialize;

use crate::output::{Output, ago, or_dash, print_table, table};
use crate::rotation::RotationFields;
use crate::{CliError, parse};

#[derive(Debug, Subcommand)]
pub enum SubscriptionsCommand {
    /// Subscribe a URL to a source's events; prints the id and what the subscriber verifies
    /// with: the `whsec_` secret (once) for `v1`, the `whpk_` public key for `v1a`.
    #[command(
        after_help = "Examples:\n  hookpost --local subscriptions add --source github-main --url https://example.com/hook --events 'push,pull_request.*'\n  hookpost --local subscriptions add --source github-main --url https://example.com/hook --signature v1a\n  hookpost --local subscriptions add --source stripe --url https://example.com/big --events 'charge.*' --filter '{\"body\": {\"data\": {\"object\": {\"amount\": [{\"numeric\": [\">=\", 10000]}]}}}}'"
    )]
    Add {
        #[arg(long, value_parser = parse::source_id)]
        source: SourceId,
        #[arg(long)]
        url: String,
        /// Event types: exact names, prefix wildcards (`invoice.*`) or `*`.
        #[arg(long, default_value = "*", value_parser = parse::event_filters)]
        events: parse::EventTypes,
        /// Payload filter: an EventBridge event pattern (JSON, or @FILE) over the event's type,
        /// source, headers and body (docs/routing.md).
        #[arg(long, value_parser = parse::filter)]
        filter: Option<serde_json::Value>,
        /// Extra header sent with every delivery, `Name: value` (repeatable).
        #[arg(long = "header", value_parser = parse::header)]
        headers: Vec<(String, String)>,
        /// Time limit of one delivery attempt, in seconds; capped by the deployment's
        /// AttemptTimeoutSeconds (default: that limit).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        timeout_seconds: Option<u64>,
        /// At most this many deliveries per second, minute or hour (`20/s`, `600/m`,
        /// `1000/h`), across every dispatcher; deliveries over it wait their turn and never fail
        /// for it (docs/delivery.md#rate-limits).
        #[arg(long)]
        rate: Option<String>,
        /// How many deliveries may go at once after a quiet spell (with `--rate`; default 1).
        #[arg(long, requires = "rate", value_parser = clap::value_parser!(u32).range(1..))]
        burst: Option<u32>,
        /// Signature schemes: `v1` (HMAC-SHA256, a `whsec_` secret shared with the subscriber),
        /// `v1a` (ed25519: the subscriber gets only the `whpk_` public key) or both, `v1,v1a`.
        #[arg(long, default_value = "v1", value_parser = parse::signatures)]
        signature: SignatureSchemes,
    },
    /// Change where and what a subscription delivers; its secrets and state stay.
    #[command(
        after_help = "Example:\n  hookpost --local subscriptions update sub_0192f1c4a7b87c4e --events 'invoice.*'"
    )]
    Update {
        id: String,
        #[arg(long)]
        url: Option<String>,
        #[arg(long, value_parser = parse::event_filters)]
        events: Option<parse::EventTypes>,
        /// Replaces the payload filter (JSON, or @FILE); `--clear-filter` removes it.
        #[arg(long, value_parser = parse::filter)]
        filter: Option<serde_json::Value>,
        #[arg(long, conflicts_with = "filter")]
        clear_filter: bool,
        /// Replaces every custom header (repeatable); `--clear-headers` removes them all.
        #[arg(long = "header", value_parser = parse::header)]
        headers: Vec<(String, String)>,
        #[arg(long, conflicts_with = "headers")]
        clear_headers: bool,
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        timeout_seconds: Option<u64>,
        /// At most this many deliveries per second, minute or hour (`20/s`, `600/m`,
        /// `1000/h`), across every dispatcher; deliveries over it wait their turn and never fail
        /// for it (docs/delivery.md#rate-limits).
        #[arg(long)]
        rate: Option<String>,
        /// How many deliveries may go at once after a quiet spell (with `--rate`; default 1).
        #[arg(long, requires = "rate", value_parser = clap::value_parser!(u32).range(1..))]
        burst: Option<u32>,
        /// Removes the rate limit.
        #[arg(long, conflicts_with = "rate")]
        clear_rate: bool,
    },
    /// List subscriptions: state, last delivery and failure streak.
    #[command(after_help = "Example:\n  hookpost --local subscriptions list --source github-main")]
    List {
        #[arg(long, value_parser = parse::source_id)]
        source: Option<SourceId>,
    },
    /// Show one subscription: its signature schemes and `whpk_` public keys (its secrets are
    /// never shown).
    Show { id: String },
    /// Add a new key of each scheme in use, or of the schemes named by `--signature`
    /// (deliveries are signed with every key), and print the new `whsec_` secret (once) or
    /// `whpk_` public key; `--finish` retires all but the newest key of each scheme once the
    /// subscriber verifies with it.
    #[command(
        after_help = "Examples:\n  hookpost --local subscriptions rotate-secret sub_0192f1c4a7b87c4e\n  hookpost --local subscriptions rotate-secret sub_0192f1c4a7b87c4e --finish\nChange from v1 to v1a:\n  hookpost --local subscriptions rotate-secret sub_0192f1c4a7b87c4e --signature v1a\n  hookpost --local subscriptions rotate-secret sub_0192f1c4a7b87c4e --finish --signature v1a"
    )]
    RotateSecret {
        id: String,
        /// Retire every key but the newest of each scheme kept.
        #[arg(long)]
        finish: bool,
        /// The schemes to add a key for, or with `--finish` to keep (the others are retired):
        /// `v1`, `v1a` or `v1,v1a`. Default: the schemes in use.
        #[arg(long, value_parser = parse::signatures)]
        signature: Option<SignatureSchemes>,
    },
    /// Delete a subscription.
    Remove { id: String },
    /// Re-enable a subscription (disabled after 410 Gone, a failure streak or by hand); its
    /// failure streak starts over.
    #[command(
        after_help = "Example:\n  hookpost --local subscriptions enable sub_0192f1c4a7b87c4e"
    )]
    Enable { id: String },
    /// Stop deliveries to a subscription until it is enabled again.
    #[command(
        after_help = "Example:\n  hookpost --local subscriptions disable sub_0192f1c4a7b87c4e --reason 'endpoint moving'"
    )]
    Disable {
        id: String,
        /// Why, shown by `subscriptions list`.
        #[arg(long, default_value = "disabled by an operator")]
        reason: String,
    },
}

/// A subscription as the CLI prints it: the view, with its last delivery also flat.
#[derive(Debug, Serialize)]
struct Row {
    #[serde(flatten)]
    view: SubscriptionView,
    last_attempt_at: Option<String>,
    last_status: Option<String>,
    last_event_id: Option<String>,
}

impl From<SubscriptionView> for Row {
    fn from(view: SubscriptionView) -> Self {
        let last = view.last_delivery.clone();
        Self {
            last_attempt_at: last.as_ref().map(|l| l.at.clone()),
            last_status: last.as_ref().map(|l| l.status.clone()),
            last_event_id: last.map(|l| l.event_id),
            view,
        }
    }
}

#[derive(Debug, Serialize)]
struct SubscriptionRotation {
    subscription_id: String,
    #[serde(flatten)]
    rotation: RotationFields,
}

pub async fn run(
    ops: &Operations,
    output: Output,
    command: SubscriptionsCommand,
) -> Result<(), CliError> {
    match command {
        SubscriptionsCommand::Add {
            source,
            url,
            events,
            filter,
            headers,
            timeout_seconds,
            rate,
            burst,
            signature,
        } => {
            let rate = rate.map(|r| checked_rate(&r, burst)).transpose()?;
            let created = ops
                .add_subscription(NewSubscription {
                    source_id: source,
                    url,
                    event_types: events.0,
                    filter,
                    headers: headers.into_iter().collect(),
                    timeout_seconds,
                    rate,
                    signatures: signature,
                })
                .await?;
            output.show(&created, print_created)
        }
        SubscriptionsCommand::Update {
            id,
            url,
            events,
            filter,
            clear_filter,
            headers,
            clear_headers,
            timeout_seconds,
            rate,
            burst,
            clear_rate,
        } => {
            let rate = if clear_rate {
                Some(None)
            } else {
                rate.map(|r| checked_rate(&r, burst).map(Some))
                    .transpose()?
            };
            let headers: BTreeMap<_, _> = headers.into_iter().collect();
            let changes = SubscriptionChanges {
                url,
                event_types: events.map(|e| e.0),
                filter: if clear_filter {
                    Some(None)
                } else {
                    filter.map(Some)
                },
                headers: (clear_headers || !headers.is_empty()).then_some(headers),
                timeout_seconds: timeout_seconds.map(Some),
                rate,
            };
            let updated = Row::from(ops.update_subscription(&id, changes).await?);
            output.show(&updated, |row| print_rows(std::slice::from_ref(row)))
        }
        SubscriptionsCommand::List { source } => {
            let mut rows = Vec::new();
            let mut page = Some(PageRequest::first(hookpost_operations::page::MAX_LIMIT)?);
            while let Some(request) = page {
                let got = ops.list_subscriptions(source.as_ref(), &request).await?;
                rows.extend(got.items.into_iter().map(Row::from));
                page = request.next(got.next_cursor);
            }
            output.show(&rows, |rows| print_rows(rows))
        }
        SubscriptionsCommand::Show { id } => {
            let rows = [Row::from(ops.get_subscription(&id).await?)];
            output.show(&rows, |rows| {
                print_rows(rows);
                print_keys(&rows[0].view);
            })
        }
        SubscriptionsCommand::RotateSecret {
            id,
            finish,
            signature,
        } => {
            let rotate = if finish {
                SubscriptionRotate::Finish(signature)
            } else {
                SubscriptionRotate::Add(signature)
            };
            let rotation = ops.rotate_subscription_secret(&id, rotate).await?;
            let shown = SubscriptionRotation {
                subscription_id: rotation.id.clone(),
                rotation: rotation.into(),
            };
            output.show(&shown, |r| r.rotation.print(&r.subscription_id))
        }
        SubscriptionsCommand::Remove { id } => {
            let removed = ops.remove_subscription(&id).await?;
            output.show(
                &serde_json::json!({ "subscription_id": removed.id, "removed": removed.removed }),
                |_| println!("removed {}", removed.id),
            )
        }
        SubscriptionsCommand::Enable { id } => {
            let row = Row::from(ops.set_subscription_enabled(&id, true, None).await?);
            output.show(&row, |r| println!("enabled {}", r.view.subscription_id))
        }
        SubscriptionsCommand::Disable { id, reason } => {
            let row = Row::from(
                ops.set_subscription_enabled(&id, false, Some(&reason))
                    .await?,
            );
            output.show(&row, |r| println!("disabled {}", r.view.subscription_id))
        }
    }
}

fn print_created(created: &CreatedSubscription) {
    println!("subscription {}", created.subscription.subscription_id);
    println!("url          {}", created.subscription.url);
    println!("signatures   {}", schemes(&created.subscription.signatures));
    if let Some(secret) = &created.secret {
        println!("secret       {}", secret.expose());
    }
    if let Some(public_key) = &created.public_key {
        println!("public key   {public_key}");
    }
    if created.secret.is_some() {
        println!("Verify v1 signatures with this Standard Webhooks secret; it is not shown again.");
    }
    if created.public_key.is_some() {
        println!(
            "Verify v1a signatures with this ed25519 public key (docs/delivery.md); \
             `subscriptions show` prints it again."
        );
    }
}

/// `v1,v1a`.
fn schemes(schemes: &[SignatureScheme]) -> String {
    schemes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// A subscription's signature schemes and `whpk_` public keys (public keys are not secret).
fn print_keys(view: &SubscriptionView) {
    println!("signatures   {}", schemes(&view.signatures));
    for key in &view.public_keys {
        println!("public key   {key}");
    }
}

/// `20/s`, its burst when above 1, and the current wait when there is one.
fn rate_cell(rate: &RateView) -> String {
    let mut cell = rate.rate.clone();
    if rate.burst > 1 {
        cell.push_str(&format!(" burst {}", rate.burst));
    }
    if rate.wait_ms > 0 {
        cell.push_str(&format!(
            ", wait {}",
            humantime::format_duration(std::time::Duration::from_millis(rate.wait_ms))
        ));
    }
    cell
}

/// Subscriptions with their last delivery and failure streak (secrets are never shown).
fn print_rows(rows: &[Row]) {
    let mut t = table([
        "SUBSCRIPTION",
        "SOURCE",
        "STATE",
        "EVENTS",
        "LAST DELIVERY",
        "FAILING FOR",
        "RATE",
        "URL",
    ]);
    for row in rows {
        let s = &row.view;
        let state = match (&s.enabled, &s.disabled_reason) {
            (true, _) => "enabled".to_owned(),
            (false, Some(reason)) => format!("disabled: {reason}"),
            (false, None) => "disabled".to_owned(),
        };
        let last = s
            .last_delivery
            .as_ref()
            .map(|l| format!("{} {}", l.status, ago(&l.at)));
        t.add_row([
            s.subscription_id.clone(),
            s.source_id.clone(),
            state,
            s.event_types.join(","),
            or_dash(last),
            or_dash(s.failing_since.as_deref().map(ago)),
            or_dash(s.rate.as_ref().map(rate_cell)),
            s.url.clone(),
        ]);
    }
    print_table(&t);
}
