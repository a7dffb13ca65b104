//! PLACEHOLDER — being implemented; never lands as is.

#![allow(dead_code, unused_imports)]

use std::time::Duration;

use super::{Check, EventMeta, Handshake, Inbound, SchemeOptions, SignError, VerifyError};
use crate::secret::Secret;

/// Placeholder tolerance, replaced with the provider's documented value.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

pub(super) const FORWARDED_HEADERS: &[&str] = &[];

pub(super) fn verify(_check: &Check<'_>, _request: &Inbound<'_>) -> Result<(), VerifyError> {
    Err(VerifyError::Unconfigured("not implemented yet"))
}

pub(super) fn describe(_check: &Check<'_>, _request: &Inbound<'_>) -> EventMeta {
    EventMeta::default()
}

