//! The command line, as clap types. Every command has `--help` with an example.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hookpost_shared::signature::Provider;

#[derive(Debug, Parser)]
#[command(
    name = "hookpost",
    version,
    about = "Operate Hookpost: sources, subscriptions, the dead-letter queue and the local stack",
    after_help = "Examples:\n  hookpost local up --port 3000\n  hookpost --local sources add github-main --provider github\n  hookpost --local subscriptions add --source github-main --url http://127.0.0.1:9000/hook\n  hookpost --local dlq list\n\nExit codes: 0 success, 1 the operation failed, 2 bad usage."
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
    /// Inspect and redrive the dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqCommand),
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
    /// Run the main job end to end on this machine and print its trace.
    Demo,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// Provider scheme: github, standard-webhooks (alias svix).
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
    },
    /// List sources (secrets are never shown).
    List,
    /// Show one source (its secret is never shown).
    Show { name: String },
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
    },
    /// List subscriptions and their state.
    List {
        #[arg(long)]
        source: Option<String>,
    },
    /// Delete a subscription.
    Remove { id: String },
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Dead-lettered events: id, source, type, age, receives, undelivered subscriptions.
    List,
    /// Move dead-lettered events back to the ingest queue.
    Redrive {
        /// Every message in the dead-letter queue.
        #[arg(long, required = true)]
        all: bool,
    },
}
