//! Deleting a video, whatever its state: the record becomes a tombstone first, then S3 lets go of
//! everything under its key.
//!
//! Tombstone first, because from then on every path that could bring the video back (a complete
//! racing this delete, a late `ObjectCreated`, the sweeper) finds a final `deleted` record, and
//! the ones that made an object anyway remove it ([`super::settle::arrived`]). A delete that dies
//! between the write and S3 leaves an object no record shows; deleting again (204) removes it.

use super::UploadError;
use super::settle::bury_leftovers;
use crate::app::Objects;
use crate::store::StoreError;
use vidgate_domain::{Status, Video, keys, time};

/// How many times a delete re-reads a record that changed under it (a complete or an event
/// moving it out of `uploading`) before giving up; each change is final, so two suffice.
const ATTEMPTS: usize = 4;

/// Removes the video's poster and sprites. Only a delete does: only an uploaded video has them,
/// and a picture an images run writes after this is removed by that run, whose record write
/// fails on the tombstone.
async fn clear_images(app: &impl Objects, video: &Video) -> Result<(), UploadError> {
    let (pictures, _) = app.objects().clear_prefix(&keys::images_prefix(&video.owner, &video.id)).await?;
    if pictures > 0 {
        tracing::info!(video_id = %video.id, pictures, "deleted video's pictures removed");
    }
    Ok(())
}

/// Deletes the caller's video `video` (its record, even a tombstone: deleting twice succeeds
/// again): tombstone, abort what S3 holds open for it, delete its object.
pub async fn delete(app: &impl Objects, video: Video) -> Result<Video, UploadError> {
    let mut current = video;
    for _ in 0..ATTEMPTS {
        if current.status == Status::Deleted {
            bury_leftovers(app, &current).await?;
            clear_images(app, &current).await?;
            return Ok(current);
        }
        match app.videos().bury(&current, time::now()).await {
            Ok(buried) => {
                bury_leftovers(app, &buried).await?;
                clear_images(app, &buried).await?;
                tracing::info!(video_id = %buried.id, was = current.status.as_str(), "video deleted");
                return Ok(buried);
            }
            Err(StoreError::ConditionFailed) => {
                current = app.videos().get(&current.id).await?.ok_or(UploadError::Vanished(current.id))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(UploadError::Store(StoreError::Unavailable(format!(
        "video {} kept changing while being deleted",
        current.id
    ))))
}
