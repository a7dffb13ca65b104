//! The command line's root: the global flags and the command groups, each defined in its own
//! module. Every command has `--help` with an example.

use clap::{Args, Parser, Subcommand};

use crate::console::ConsoleArgs;
use crate::dlq::DlqCommand;
use crate::events::EventsCommand;
use crate::local::LocalCommand;
use crate::output::Output;
use crate::sign::{SendArgs, SignArgs, VerifyArgs};
use crate::sources::SourcesCommand;
use crate::subscriptions::SubscriptionsCommand;

#[derive(Debug, Parser)]
#[command(
    name = "hookpost",
    version,
    about = "Operate Hookpost: sources, subscriptions, the dead-letter queue and the local stack",
    after_help = "Examples:\n  hookpost local up --port 3000\n  hookpost --local sources add github-main --provider github\n  hookpost --local subscriptions add --source github-main --url http://127.0.0.1:9000/hook\n  hookpost --stack hookpost --region eu-west-1 dlq list\n\nWhere commands talk: --local (the stack of `hookpost local up`), else --stack NAME (or\nHOOKPOST_STACK: the CloudFormation stack's outputs), else the HOOKPOST_* variables. AWS_ENDPOINT_URL,\n--region and --profile are honoured. Output has no colour; logs (RUST_LOG) go to stderr.\n\nExit codes: 0 success, 1 the operation failed, 2 bad usage (or a confirmation that could not be asked)."
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
    /// Find accepted events in the archive, replay them, recover a window.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Serve the web console on 127.0.0.1: overview, dead letters, events, subscriptions.
    #[command(
        after_help = "Examples:\n  hookpost --local console\n  hookpost --stack hookpost console --port 8700 --no-open\n\nThe printed URL carries a token for this launch only; the console answers nothing without it.\nStop it with Ctrl+C. See docs/console.md."
    )]
    Console(ConsoleArgs),
    /// Every delivery attempt of an event.
    #[command(
        after_help = "Example:\n  hookpost --local deliveries evt_0192f1c4a7b87c4e9d5d6f3a2b1c0d9e"
    )]
    Deliveries {
        /// The event id the receiver answered with (or a replay's `{event_id}#{replay id}`).
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
    Send(SendArgs),
    /// Check a request's signature as the receiver would; exit 0 valid, 1 invalid, 2 usage error.
    #[command(
        after_help = "Example:\n  hookpost verify --provider github --secret s3cret -H 'X-Hub-Signature-256: sha256=…' --body-file body.json"
    )]
    Verify(VerifyArgs),
    /// Run the main job end to end on this machine and print its trace.
    #[command(
        after_help = "Examples:\n  hookpost demo\n  hookpost demo --console    # then look at what it did, until Ctrl+C"
    )]
    Demo(crate::demo::DemoArgs),
}
