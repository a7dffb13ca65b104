//! PLACEHOLDER — being implemented; never lands as is.

#![allow(dead_code, unused_imports)]

use std::time::Duration;

use super::{Check, EventMeta, Handshake, Inbound, SchemeOptions, SignError, VerifyError};
use crate::secret::Secret;


pub(super) const FORWARDED_HEADERS: &[&str] = &[];

pub(super) fn verify(_check: &Check<'_>, _request: &Inbound<'_>) -> Result<(), VerifyError> {
    Err(VerifyError::Unconfigured("not implemented yet"))
}

pub(super) fn describe(_check: &Check<'_>, _request: &Inbound<'_>) -> EventMeta {
    EventMeta::default()
}

pub fn sign_request(
    _secret: &Secret,
    _body: &[u8],
    _now: i64,
    _options: &SchemeOptions,
) -> Result<Vec<(String, String)>, SignError> {
    Err(SignError::Invalid("not implemented yet".to_owned()))
}
