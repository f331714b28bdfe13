//! Aborting an upload.

use super::settle::{abort_open_uploads, settle};
use super::{UploadError, not_uploading};
use crate::app::Objects;
use vidgate_domain::{Change, Status, Video};

/// Aborts the caller's upload `video` (whatever S3 holds open for it) and records it `aborted`;
/// aborting an aborted upload succeeds again.
pub async fn abort(app: &impl Objects, video: Video) -> Result<(), UploadError> {
    let settled = match video.status {
        Status::Uploading => {
            // If a racing complete got there first, `settle` sees the object and says so.
            abort_open_uploads(app, &video).await?;
            settle(app, &video, Change::Abort).await?
        }
        _ => video,
    };
    match settled.status {
        // Aborting twice answers the same as the first time.
        Status::Aborted => Ok(()),
        other => Err(not_uploading(other)),
    }
}
