//! The functions events invoke, translating them into use cases: learning of finished uploads
//! from S3 events, expiring abandoned uploads on a schedule, publishing lifecycle events from the
//! table's stream, making a video's pictures when it is uploaded, delivering the events to the
//! app's webhook, signed, and erasing an owner when an operator asks.

mod deliver_webhooks;
mod erase_owner;
mod expire_uploads;
mod make_images;
mod object_created;
mod publish_events;

pub use crate::uploads::SweepReport;
pub use deliver_webhooks::deliver_webhooks;
pub use erase_owner::{EraseRequest, erase_owner};
pub use expire_uploads::{UploadsPass, auto_complete_uploads, expire_uploads, settle_uploads};
pub use make_images::make_images;
pub use object_created::{MAX_RECEIVES, ObjectReport, on_object_created, on_s3_event};
pub use publish_events::{LifecycleDetail, PUBLISH_MAX_RETRIES, lifecycle_event, publish_events};

use crate::uploads::UploadError;

/// A failed invocation of an event function: S3, SQS or the scheduler retries it. The Lambda
/// runtime reports it with a short type and the error's text; the cause is logged.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct EventError(#[from] pub UploadError);

impl From<EventError> for lambda_http::lambda_runtime::Diagnostic {
    fn from(EventError(err): EventError) -> Self {
        tracing::error!(error = %err, "invocation failed");
        let error_type = if err.is_unavailable() { "DependencyUnavailable" } else { "UploadError" };
        Self { error_type: error_type.to_owned(), error_message: err.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn an_unreachable_dependency_fails_the_invocation_as_such_and_a_bad_request_as_itself() {
        let down = EventError(UploadError::Store(StoreError::Unavailable("timeout".into())));
        let diagnostic = lambda_http::lambda_runtime::Diagnostic::from(down);
        assert_eq!(diagnostic.error_type, "DependencyUnavailable");
        let bad = EventError(UploadError::invalid("invalid_payload", "owner must not be empty"));
        let diagnostic = lambda_http::lambda_runtime::Diagnostic::from(bad);
        assert_eq!(diagnostic.error_type, "UploadError");
        assert!(diagnostic.error_message.contains("owner must not be empty"));
    }
}
