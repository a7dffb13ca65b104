//! The command line, as clap types. Every command has `--help` with an example.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hookpost_shared::signature::{
    DigestEncoding, GenericHmac, HmacAlgorithm, Provider, SchemeOptions,
};

#[derive(Debug, Parser)]
#[command(
    name = "hookpost",
    version,
    about = "Operate Hookpost: sources, subscriptions, the dead-letter queue and the local stack",
    after_help = "Examples:\n  hookpost local up --port 3000\n  hookpost --local sources add github-main --provider github\n  hookpost --local subscriptions add --source github-main --url http://127.0.0.1:9000/hook\n  hookpost --stack hookpost --region eu-west-1 dlq list\n\nWhere commands talk: --local (the stack of `hookpost local up`), else --stack NAME (or\nHOOKPOST_STACK: the CloudFormation stack's outputs), else the HOOKPOST_* variables. AWS_ENDPOINT_URL,\n--region and --profile are honoured. Output has no colour.\n\nExit codes: 0 success, 1 the operation failed, 2 bad usage (or a confirmation that could not be asked)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Talk to the stack started by `hookpost local up` (reads .hookpost/local.json).
    #[arg(long, global = true)]
    pub local: bool,
    /// The deployed CloudFormation stack; its outputs name the queues, tables and webhook URL.
    #[arg(long, global = true, env = "HOOKPOST_STACK")]
    pub stack: Option<String>,
    /// AWS region (default: AWS_REGION or the profile's).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config (default: AWS_PROFILE or `default`).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// JSON for scripts (stable field names).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline on this machine.
    #[command(subcommand)]
    Local(LocalCommand),
    /// Manage sources: one provider endpoint each.
    #[command(subcommand)]
    Sources(SourcesCommand),
    /// Manage subscriptions: where a source's events are delivered.
    #[command(subcommand)]
    Subscriptions(SubscriptionsCommand),
    /// Inspect, redrive and purge the dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Find accepted events in the archive and replay them.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Every delivery attempt of an event.
    #[command(
        after_help = "Example:\n  hookpost --local deliveries evt_0192f1c4a7b87c4e9d5d6f3a2b1c0d9e"
    )]
    Deliveries {
        /// The event id the receiver answered with.
        event_id: String,
    },
    /// Print the headers a provider would send with a body.
    #[command(
        after_help = "Example:\n  hookpost sign --provider github --secret s3cret --data-file body.json"
    )]
    Sign(SignArgs),
    /// Sign a body like the provider would and post it to the receiver.
    #[command(
        after_help = "Example:\n  hookpost --local send --source github-main --provider github --secret s3cret --data-file body.json --event push"
    )]
    Send {
        /// The source id the event is sent to.
        #[arg(long)]
        source: String,
        /// The receiver's base URL (`…/webhooks/`); with --local, the local stack's.
        #[arg(long)]
        url: Option<String>,
        #[command(flatten)]
        sign: SignArgs,
    },
    /// Check a request's signature as the receiver would; exit 0 valid, 1 invalid, 2 usage error.
    #[command(
        after_help = "Example:\n  hookpost verify --provider github --secret s3cret -H 'X-Hub-Signature-256: sha256=…' --body-file body.json"
    )]
    Verify(VerifyArgs),
    /// Run the main job end to end on this machine and print its trace.
    Demo,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Provider scheme (see `hookpost sources add --help` for the list).
    #[arg(long)]
    pub provider: Provider,
    /// The secret or public key, as the provider's dashboard shows it.
    #[arg(long, env = "HOOKPOST_SECRET", hide_env_values = true)]
    pub secret: String,
    /// The full URL the provider posted to (Twilio and Square sign it).
    #[arg(long)]
    pub url: Option<String>,
    /// Check timestamps against this instant (Unix seconds) instead of now.
    #[arg(long)]
    pub now: Option<i64>,
    /// Timestamp tolerance in seconds (default: the provider's).
    #[arg(long)]
    pub tolerance: Option<u64>,
    /// A request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// The exact request body.
    #[arg(long)]
    pub body_file: PathBuf,
    #[command(flatten)]
    pub scheme: SchemeArgs,
}

/// Options some schemes need besides the secret.
#[derive(Debug, Clone, Default, Args)]
pub struct SchemeArgs {
    /// The exact public URL configured at the provider (Twilio, Square).
    #[arg(long)]
    pub public_url: Option<String>,
    /// GitHub: also accept the legacy SHA-1 `X-Hub-Signature`.
    #[arg(long)]
    pub allow_sha1: bool,
    /// generic-hmac: the header carrying the signature.
    #[arg(long)]
    pub signature_header: Option<String>,
    /// generic-hmac: the HMAC algorithm.
    #[arg(long, value_enum)]
    pub algorithm: Option<Algorithm>,
    /// generic-hmac: how the digest is written.
    #[arg(long, value_enum)]
    pub encoding: Option<Encoding>,
    /// generic-hmac: text before the digest, e.g. `sha256=`.
    #[arg(long)]
    pub prefix: Option<String>,
    /// generic-hmac: the header carrying a signed Unix timestamp.
    #[arg(long)]
    pub timestamp_header: Option<String>,
    /// generic-hmac: what is signed, with `{body}` and `{timestamp}`, e.g. `{timestamp}.{body}`.
    #[arg(long)]
    pub template: Option<String>,
    /// generic-hmac: the header naming the event type.
    #[arg(long)]
    pub event_type_header: Option<String>,
    /// generic-hmac: the header carrying the provider's delivery id.
    #[arg(long)]
    pub delivery_id_header: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Encoding {
    Hex,
    Base64,
}

impl SchemeArgs {
    /// The scheme options these flags describe, checked against the provider.
    pub fn options(&self, provider: Provider) -> Result<SchemeOptions, String> {
        let generic = match (&self.signature_header, self.algorithm, self.encoding) {
            (Some(header), Some(algorithm), Some(encoding)) => Some(GenericHmac {
                algorithm: match algorithm {
                    Algorithm::Sha1 => HmacAlgorithm::Sha1,
                    Algorithm::Sha256 => HmacAlgorithm::Sha256,
                    Algorithm::Sha512 => HmacAlgorithm::Sha512,
                },
                encoding: match encoding {
                    Encoding::Hex => DigestEncoding::Hex,
                    Encoding::Base64 => DigestEncoding::Base64,
                },
                header: header.to_ascii_lowercase(),
                prefix: self.prefix.clone(),
                timestamp_header: self
                    .timestamp_header
                    .as_deref()
                    .map(str::to_ascii_lowercase),
                template: self.template.clone(),
                event_type_header: self
                    .event_type_header
                    .as_deref()
                    .map(str::to_ascii_lowercase),
                delivery_id_header: self
                    .delivery_id_header
                    .as_deref()
                    .map(str::to_ascii_lowercase),
            }),
            (None, None, None) => None,
            _ => {
                return Err(
                    "generic-hmac needs --signature-header, --algorithm and --encoding together"
                        .to_owned(),
                );
            }
        };
        if let Some(layout) = &generic {
            hookpost_shared::signature::generic_hmac::check_layout(layout)
                .map_err(|e| format!("generic-hmac layout: {e}"))?;
        }
        if provider == Provider::GenericHmac && generic.is_none() {
            return Err(
                "generic-hmac needs --signature-header, --algorithm and --encoding".to_owned(),
            );
        }
        if matches!(provider, Provider::Twilio | Provider::Square) && self.public_url.is_none() {
            return Err(format!(
                "{provider} signs the URL it posts to: pass --public-url with the URL configured at {provider}"
            ));
        }
        Ok(SchemeOptions {
            public_url: self.public_url.clone(),
            allow_sha1: self.allow_sha1,
            generic,
        })
    }
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// Provider scheme: github, stripe, slack, shopify, standard-webhooks (alias svix), twilio,
    /// twitch, zoom, square, linear, intercom, gitlab, sendgrid, discord, generic-hmac.
    #[arg(long)]
    pub provider: Provider,
    /// The source's secret, as the provider shows it.
    #[arg(long, env = "HOOKPOST_SECRET", hide_env_values = true)]
    pub secret: String,
    /// The body to sign.
    #[arg(long)]
    pub data_file: PathBuf,
    /// Event type, for providers that send it in a header (GitHub's X-GitHub-Event).
    #[arg(long)]
    pub event: Option<String>,
    #[command(flatten)]
    pub scheme: SchemeArgs,
}

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Start the emulator (moto, unless AWS_ENDPOINT_URL is set), the queues and tables from
    /// template.yaml, the receiver and the dispatcher; stop with Ctrl-C.
    #[command(
        after_help = "Example:\n  hookpost local up --port 3000 --max-receive-count 3 --retry-delays 1s,2s,4s"
    )]
    Up {
        /// Receiver port on 127.0.0.1.
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Receives before a message moves to the dead-letter queue (template: MaxReceiveCount).
        #[arg(long)]
        max_receive_count: Option<u32>,
        /// Delays before each retry (template: RetryDelays), e.g. 1s,2s,4s.
        #[arg(long)]
        retry_delays: Option<String>,
        /// Each source's events in order, on FIFO queues (template: OrderedDelivery=true).
        #[arg(long)]
        ordered: bool,
        /// Another template than the one built in.
        #[arg(long)]
        template: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Create a source and print the URL to give the provider, and its secret (once).
    #[command(
        after_help = "Example:\n  hookpost --local sources add github-main --provider github"
    )]
    Add {
        /// Source id: letters, digits, `-` and `_`; the last segment of the webhook URL.
        name: String,
        #[arg(long)]
        provider: Provider,
        /// The provider's secret; a strong one is generated when omitted.
        #[arg(long, env = "HOOKPOST_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Timestamp tolerance in seconds (timestamped schemes).
        #[arg(long)]
        tolerance_seconds: Option<u64>,
        #[command(flatten)]
        scheme: Box<SchemeArgs>,
    },
    /// List sources (secrets are never shown).
    List,
    /// Show one source (its secret is never shown).
    Show { name: String },
    /// Add a new secret beside the current ones and print it (once); `--finish` retires all but
    /// the newest once the provider signs with it.
    #[command(
        after_help = "Example:\n  hookpost --local sources rotate-secret github-main\n  # paste the new secret into GitHub, then:\n  hookpost --local sources rotate-secret github-main --finish"
    )]
    RotateSecret {
        name: String,
        /// The new secret, when the provider generates it; a strong one is generated otherwise.
        #[arg(
            long,
            env = "HOOKPOST_SECRET",
            hide_env_values = true,
            conflicts_with = "finish"
        )]
        secret: Option<String>,
        /// Retire every secret but the newest.
        #[arg(long)]
        finish: bool,
    },
    /// Delete a source.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum SubscriptionsCommand {
    /// Subscribe a URL to a source's events; prints the id and the `whsec_` secret (once).
    #[command(
        after_help = "Example:\n  hookpost --local subscriptions add --source github-main --url https://example.com/hook --events 'push,pull_request.*'"
    )]
    Add {
        #[arg(long)]
        source: String,
        #[arg(long)]
        url: String,
        /// Event types: exact names, prefix wildcards (`invoice.*`) or `*`.
        #[arg(long, default_value = "*")]
        events: String,
        /// Extra header sent with every delivery, `Name: value` (repeatable).
        #[arg(long = "header")]
        headers: Vec<String>,
        /// Time limit of one delivery attempt, in seconds; capped by the deployment's
        /// AttemptTimeoutSeconds (default: that limit).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        timeout_seconds: Option<u64>,
    },
    /// List subscriptions: state, last delivery and failure streak.
    #[command(after_help = "Example:\n  hookpost --local subscriptions list --source github-main")]
    List {
        #[arg(long)]
        source: Option<String>,
    },
    /// Show one subscription (its secrets are never shown).
    Show { id: String },
    /// Add a new `whsec_` secret (deliveries are signed with every secret) and print it (once);
    /// `--finish` retires all but the newest once the subscriber verifies with it.
    #[command(
        after_help = "Example:\n  hookpost --local subscriptions rotate-secret sub_0192f1c4a7b87c4e\n  hookpost --local subscriptions rotate-secret sub_0192f1c4a7b87c4e --finish"
    )]
    RotateSecret {
        id: String,
        /// Retire every secret but the newest.
        #[arg(long)]
        finish: bool,
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

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Dead-lettered events: id, source, type, age, receives, undelivered subscriptions and
    /// their last error.
    #[command(after_help = "Example:\n  hookpost --local dlq list --output json")]
    List,
    /// One dead-lettered event: its envelope and its delivery history.
    #[command(
        after_help = "Example:\n  hookpost --local dlq show evt_0192f1c4a7b87c4e9d5d6f3a2b1c0d9e"
    )]
    Show { event_id: String },
    /// Move dead-lettered events back to the ingest queue; subscribers that already got an event
    /// are not called again.
    #[command(
        after_help = "Examples:\n  hookpost --local dlq redrive --all\n  hookpost --local dlq redrive evt_0192f1c4a7b87c4e9d5d6f3a2b1c0d9e --rate 5"
    )]
    Redrive {
        /// Every message (SQS StartMessageMoveTask where the endpoint has it, else one by one).
        #[arg(
            long,
            conflicts_with = "event_ids",
            required_unless_present = "event_ids"
        )]
        all: bool,
        /// These events only.
        event_ids: Vec<String>,
        /// At most N messages a second.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
        rate: Option<u32>,
    },
    /// Delete every message in the dead-letter queue (asks first).
    #[command(after_help = "Example:\n  hookpost --local dlq purge --yes")]
    Purge {
        /// Do not ask; required when stdin is not a terminal.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Accepted events, oldest first, from the archive.
    #[command(
        after_help = "Examples:\n  hookpost --local events list --source github-main --since 1h\n  hookpost --local events list --type 'pull_request.*' --since 2026-11-22T00:00:00Z"
    )]
    List {
        /// Only this source's events (default: every source's).
        #[arg(long)]
        source: Option<String>,
        /// Received at or after: RFC 3339, or a duration ago such as `30m`, `24h`, `7days`.
        #[arg(long, default_value = "24h")]
        since: String,
        /// Only these event types: exact names, prefix wildcards (`invoice.*`) or `*`.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// At most this many events.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10000))]
        limit: u32,
    },
    /// One archived event: its envelope.
    Show { event_id: String },
    /// Queue an archived event again: every subscription that wants it is called again, or only
    /// the ones named with --subscription.
    #[command(
        after_help = "Example:\n  hookpost --local events replay evt_0192f1c4a7b87c4e9d5d6f3a2b1c0d9e --subscription sub_0192f1c4a7b87c4e"
    )]
    Replay {
        event_id: String,
        /// Only this subscription (repeatable).
        #[arg(long = "subscription")]
        subscriptions: Vec<String>,
    },
}
