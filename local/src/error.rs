//! Why a local stack could not start.

use crate::provision::ProvisionError;
use crate::template::TemplateError;

/// Why the local stack (or its emulator) could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(
        "moto's server was not found: run `make venv` first (it installs moto into .venv), \
         or set AWS_ENDPOINT_URL to a running LocalStack or moto server"
    )]
    MotoNotFound,
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    #[error("invalid option: {0}")]
    Option(String),
}
