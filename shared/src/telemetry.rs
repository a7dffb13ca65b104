//! Logging setup for the functions and the CLI.
//!
//! In Lambda, `AWS_LAMBDA_LOG_FORMAT` (JSON or Text) and `AWS_LAMBDA_LOG_LEVEL` come from the
//! function's `LoggingConfig`; CloudWatch adds its own timestamps, so JSON lines carry none.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{FilterFn, filter_fn};
use tracing_subscriber::prelude::*;

/// Libraries whose TRACE output holds secrets, kept at DEBUG whatever level is asked for: the AWS
/// SDK prints whole response bodies (a source's item carries its provider secrets) and SigV4
/// canonical requests (with the session token); lambda_runtime prints the raw event (GitLab's
/// `X-Gitlab-Token` is the secret itself). Found by `tests/integration/secrets.rs`.
const NEVER_TRACED: &[&str] = &[
    "aws_",
    "lambda_runtime",
    "lambda_http",
    "hyper",
    "h2",
    "rustls",
];

/// The filter that drops those TRACE events; `init` installs it, tests capture through it.
pub fn secret_safe() -> FilterFn<impl Fn(&tracing::Metadata<'_>) -> bool + Clone> {
    filter_fn(|meta| {
        *meta.level() != tracing::Level::TRACE
            || !NEVER_TRACED.iter().any(|t| meta.target().starts_with(t))
    })
}

/// Installs the global subscriber once; later calls are no-ops.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned())
        .to_lowercase();
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .without_time()
            .finish()
            .with(secret_safe())
            .try_init()
    } else {
        builder
            .with_ansi(false)
            .without_time()
            .finish()
            .with(secret_safe())
            .try_init()
    };
    // A subscriber already installed (tests, the local stack) is fine.
    drop(result);
}

/// Logging for a command-line tool: to stderr, so `--output json` on stdout stays parseable;
/// `RUST_LOG` sets the level (default: Hookpost's own notes and everyone's warnings); colour only
/// on a terminal and never with `NO_COLOR` set (<https://no-color.org>).
pub fn init_for_terminal() {
    use std::io::IsTerminal as _;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|level| EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| {
            EnvFilter::new("warn,hookpost_operations=info,hookpost_local=info,hookpost_cli=info")
        });
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let result = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .without_time()
        .finish()
        .with(secret_safe())
        .try_init();
    drop(result);
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn trace_events_of_the_sdk_and_the_lambda_runtime_are_dropped_and_ours_are_kept() {
        let lines = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = Arc::clone(&lines);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || Sink(Arc::clone(&sink)))
            .finish()
            .with(secret_safe());
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "lambda_runtime::layers::api_response", "raw event");
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator::http", "body");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "sent");
            tracing::trace!(target: "hookpost_receiver", "ours");
        });
        let text = String::from_utf8(lines.lock().expect("lock").clone()).expect("utf-8");
        assert!(
            !text.contains("raw event") && !text.contains("body"),
            "{text}"
        );
        assert!(text.contains("sent") && text.contains("ours"), "{text}");
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
