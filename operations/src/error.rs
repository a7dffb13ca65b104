//! Why an operation failed, as a type its faces map once: the CLI to an exit code and a line on
//! stderr, the API to a status and `{"error": {"code", "message"}}`.

use std::fmt;

use hookpost_shared::store::StoreError;

/// What kind of thing was not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Source,
    Subscription,
    Event,
    DeadLetter,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Subscription => "subscription",
            Kind::Event => "event",
            Kind::DeadLetter => "dead letter",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An operation's failure. Messages name what to fix and never carry a secret.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The thing named does not exist (or is past its retention).
    #[error("no {kind} {id}{}", hint.map(|h| format!(": {h}")).unwrap_or_default())]
    NotFound {
        kind: Kind,
        id: String,
        hint: Option<&'static str>,
    },
    /// An input is not valid: `field` names it, `reason` says what a valid one looks like.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The request contradicts what exists (a source id already taken, a secret already held).
    #[error("{0}")]
    Conflict(String),
    /// A store or queue call failed; retrying later may work. Says nothing of the request.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
}

impl OpError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        OpError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(kind: Kind, id: impl Into<String>) -> Self {
        OpError::NotFound {
            kind,
            id: id.into(),
            hint: None,
        }
    }

    /// A stable machine-readable code: `not_found`, `invalid`, `conflict`, `unavailable`.
    pub fn code(&self) -> &'static str {
        match self {
            OpError::NotFound { .. } => "not_found",
            OpError::Invalid { .. } => "invalid",
            OpError::Conflict(_) => "conflict",
            OpError::Unavailable(_) => "unavailable",
        }
    }

    /// An SQS or DynamoDB call that failed, as [`OpError::Unavailable`].
    pub(crate) fn sdk(operation: &'static str, err: impl std::error::Error) -> Self {
        OpError::Unavailable(StoreError::new(
            operation,
            aws_sdk_sqs::error::DisplayErrorContext(err).to_string(),
        ))
    }
}
