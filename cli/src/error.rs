//! The CLI's one error type and its documented exit codes: 0 success, 1 the operation failed,
//! 2 bad usage (a value clap could not check, an input the core refused, or a confirmation that
//! could not be asked).

use hookpost_operations::OpError;

/// Why a command failed; each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or its inputs are wrong.
    #[error("{0}")]
    Usage(String),
    /// The operations core refused or failed.
    #[error("{0}")]
    Operation(#[from] OpError),
    /// Something else failed (a file, the local stack, a request).
    #[error("{0}")]
    Failed(String),
    /// A checked request is not valid (`hookpost verify`); the reason was already printed.
    #[error("the request is not valid ({0})")]
    Invalid(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Operation(OpError::Invalid { .. }) => 2,
            _ => 1,
        }
    }
}

impl From<hookpost_local::LocalError> for CliError {
    fn from(e: hookpost_local::LocalError) -> Self {
        CliError::Failed(e.to_string())
    }
}

impl From<hookpost_local::subscriber::SubscriberError> for CliError {
    fn from(e: hookpost_local::subscriber::SubscriberError) -> Self {
        CliError::Failed(e.to_string())
    }
}

impl From<hookpost_shared::store::StoreError> for CliError {
    fn from(e: hookpost_shared::store::StoreError) -> Self {
        CliError::Operation(OpError::Unavailable(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_exits_2_and_failures_exit_1() {
        assert_eq!(CliError::Usage("x".into()).exit_code(), 2);
        assert_eq!(
            CliError::from(OpError::invalid("limit", "too big")).exit_code(),
            2
        );
        assert_eq!(
            CliError::from(OpError::not_found(hookpost_operations::Kind::Source, "gh")).exit_code(),
            1
        );
        assert_eq!(CliError::Failed("x".into()).exit_code(), 1);
    }
}
