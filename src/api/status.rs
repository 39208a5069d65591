//! The one mapping from [`ServiceError`] to [`tonic::Status`]. The match is exhaustive on
//! purpose: a new error variant does not compile until someone decides what clients hear.

use crate::domain::InvalidField;
use crate::service::ServiceError;
use std::collections::HashMap;
use std::time::Duration;
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of SeatRush's structured errors.
pub const ERROR_DOMAIN: &str = "seatrush.v1";

pub fn invalid_argument(err: InvalidField) -> Status {
    Status::with_error_details(
        Code::InvalidArgument,
        err.to_string(),
        ErrorDetails::with_bad_request_violation(err.field, err.reason),
    )
}

impl From<ServiceError> for Status {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::InvalidArgument(field) => invalid_argument(field),
            ServiceError::Unauthenticated(message) => Status::unauthenticated(message),
            ServiceError::PermissionDenied(message) => Status::permission_denied(message),
            ServiceError::NotFound(message) => Status::not_found(message),
            ServiceError::AlreadyExists(message) => Status::already_exists(message),
            ServiceError::SeatsUnavailable(ref seats) => {
                let list = seats
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                Status::with_error_details(
                    Code::AlreadyExists,
                    err.to_string(),
                    ErrorDetails::with_error_info(
                        "SEATS_UNAVAILABLE",
                        ERROR_DOMAIN,
                        HashMap::from([("seats".to_owned(), list)]),
                    ),
                )
            }
            ServiceError::HoldNotLive(end) => Status::with_error_details(
                Code::FailedPrecondition,
                end.message(),
                ErrorDetails::with_error_info(end.reason(), ERROR_DOMAIN, HashMap::new()),
            ),
            ServiceError::AmountMismatch { expected, .. } => Status::with_error_details(
                Code::FailedPrecondition,
                err.to_string(),
                ErrorDetails::with_error_info(
                    "AMOUNT_MISMATCH",
                    ERROR_DOMAIN,
                    HashMap::from([("total_minor".to_owned(), expected.to_string())]),
                ),
            ),
            ServiceError::NotEnoughSeats { .. } => Status::with_error_details(
                Code::FailedPrecondition,
                err.to_string(),
                ErrorDetails::with_error_info("NOT_ENOUGH_SEATS", ERROR_DOMAIN, HashMap::new()),
            ),
            ServiceError::PaymentReferenceUsed => Status::with_error_details(
                Code::FailedPrecondition,
                err.to_string(),
                ErrorDetails::with_error_info(
                    "PAYMENT_REFERENCE_USED",
                    ERROR_DOMAIN,
                    HashMap::new(),
                ),
            ),
            ServiceError::PaymentReferenceMismatch => Status::with_error_details(
                Code::FailedPrecondition,
                err.to_string(),
                ErrorDetails::with_error_info(
                    "PAYMENT_REFERENCE_MISMATCH",
                    ERROR_DOMAIN,
                    HashMap::new(),
                ),
            ),
            ServiceError::ResourceExhausted(message) => Status::resource_exhausted(message),
            ServiceError::Busy {
                reason,
                retry_after,
            } => retry_later(
                reason.message().to_owned(),
                retry_after,
                ErrorDetails::with_error_info(reason.reason(), ERROR_DOMAIN, HashMap::new()),
            ),
            ServiceError::Unavailable(ref cause) => {
                tracing::warn!(error = %error_chain(cause), "backend unavailable");
                Status::with_error_details(
                    Code::Unavailable,
                    "a storage backend is unavailable; nothing was changed, retry shortly",
                    ErrorDetails::with_retry_info(Some(Duration::from_secs(1))),
                )
            }
            ServiceError::Internal(ref cause) => {
                tracing::error!(error = %error_chain(cause), "internal error");
                Status::internal("internal error")
            }
        }
    }
}

/// RESOURCE_EXHAUSTED that says when to come back twice over: a `google.rpc.RetryInfo` detail
/// (added to `details`) for gRPC clients that read details, and `retry-after` metadata (whole
/// seconds, rounded up) for those that only read headers.
pub fn retry_later(message: String, wait: Duration, mut details: ErrorDetails) -> Status {
    let wait = wait.max(Duration::from_millis(1));
    details.set_retry_info(Some(wait));
    let mut status = Status::with_error_details(Code::ResourceExhausted, message, details);
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    status
        .metadata_mut()
        .insert("retry-after", MetadataValue::from(seconds));
    status
}

/// `outer: inner: innermost`, for logs.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
