//! An operation's failure as a page: the status its kind calls for, the message escaped, and
//! the field named when the input was at fault. Input the operator controls is never a 500.

use axum::response::{IntoResponse, Response};
use hookpost_operations::OpError;
use http::StatusCode;

use crate::pages::layout;

/// A page handler's error.
#[derive(Debug)]
pub struct Failure(pub OpError);

impl From<OpError> for Failure {
    fn from(e: OpError) -> Self {
        Self(e)
    }
}

impl Failure {
    pub fn status(&self) -> StatusCode {
        match &self.0 {
            OpError::Invalid { .. } => StatusCode::BAD_REQUEST,
            OpError::NotFound { .. } => StatusCode::NOT_FOUND,
            OpError::Conflict(_) => StatusCode::CONFLICT,
            OpError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The field at fault, when the input was.
    pub fn field(&self) -> Option<&str> {
        match &self.0 {
            OpError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        if let OpError::Unavailable(e) = &self.0 {
            tracing::warn!(error = %e, "a console page could not reach the deployment");
        }
        let status = self.status();
        (
            status,
            layout::failure(status, self.field(), &self.0.to_string()),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_are_400_with_the_field_and_a_missing_thing_is_404() {
        let invalid = Failure(OpError::invalid("since", "bad"));
        assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
        assert_eq!(invalid.field(), Some("since"));
        let missing = Failure(OpError::not_found(
            hookpost_operations::Kind::Event,
            "evt_1",
        ));
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.field(), None);
    }
}
