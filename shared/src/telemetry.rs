//! Logging setup for the functions and the CLI.
//!
//! In Lambda, `AWS_LAMBDA_LOG_FORMAT` (JSON or Text) and `AWS_LAMBDA_LOG_LEVEL` come from the
//! function's `LoggingConfig`; CloudWatch adds its own timestamps, so JSON lines carry none.

use tracing_subscriber::EnvFilter;

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
            .try_init()
    } else {
        builder.with_ansi(false).without_time().try_init()
    };
    // A subscriber already installed (tests, the local stack) is fine.
    drop(result);
}
