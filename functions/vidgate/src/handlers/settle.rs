//! Settling a record once S3 no longer knows its multipart upload.
//!
//! S3 decides races between complete and abort: only one of CompleteMultipartUpload and
//! AbortMultipartUpload can succeed for an upload id. When S3 has forgotten the upload, the object
//! either exists (a complete won) or not (an abort won), whatever DynamoDB says yet. This makes the
//! record agree, with the same conditional write as everywhere, so a crash between the S3 call and
//! the DynamoDB write is repaired by the next call of either route.

use crate::App;
use crate::domain::{Change, Video, time};
use crate::http::ApiError;
use crate::store::StoreError;

pub(super) async fn settle(app: &App, video: &Video) -> Result<Video, ApiError> {
    let current = app.videos.get(&video.id).await?.ok_or(ApiError::NotFound)?;
    if current.status.is_final() {
        return Ok(current);
    }
    let change = match app.objects.head(&current.key).await? {
        Some(object) => Change::Complete {
            size: object.size,
            etag: object.etag,
        },
        None => Change::Abort,
    };
    record(app, &current, &change).await
}

/// Applies `change`; if another call changed the record first, returns what it wrote.
pub(super) async fn record(app: &App, video: &Video, change: &Change) -> Result<Video, ApiError> {
    match app.videos.transition(video, change, time::now()).await {
        Ok(updated) => Ok(updated),
        Err(StoreError::ConditionFailed) => {
            app.videos.get(&video.id).await?.ok_or(ApiError::NotFound)
        }
        Err(e) => Err(e.into()),
    }
}
