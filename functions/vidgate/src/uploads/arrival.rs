//! An object S3 says was created: the matching upload becomes `uploaded` (or `rejected` when its
//! first bytes are no video), so credentials-mode, single-`PUT` and signed clients — and clients
//! that crash before calling complete — need not call complete at all.
//!
//! An object under an owner's prefix that has no record (written with the prefix-scoped
//! credentials of `GET /s3/sts` or `GET /uppy/credentials`) gets one here, owned by whoever the
//! prefix belongs to.
//!
//! Idempotent and order-free: the record moves only out of `uploading`, with what S3 holds now
//! (HeadObject), not what an old or duplicate event says; keys that are not ours are ignored.

use super::UploadError;
use super::settle::arrived;
use crate::app::Objects;
use crate::domain::keys::{prefix_of, video_id_of};
use crate::domain::parts::PartPlan;
use crate::domain::upload::video_type_of;
use crate::domain::{NewUpload, Status, UploadMethod, Video, VideoId, time};
use crate::objects::ObjectInfo;
use crate::store::StoreError;

/// What recording one object did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The record moved to this status.
    Recorded { id: VideoId, status: Status },
    /// Nothing to do, and why.
    Ignored(&'static str),
}

/// Records that the object at `key` exists now.
pub async fn record_arrival(app: &impl Objects, key: &str) -> Result<Arrival, UploadError> {
    if prefix_of(key).is_none() {
        return Ok(Arrival::Ignored("not a vidgate key"));
    }
    let Some(object) = app.objects().head(key).await? else {
        return Ok(Arrival::Ignored("the object is gone"));
    };
    let Some(video) = record_for(app, key, &object).await? else {
        return Ok(Arrival::Ignored("no upload record for this key and no owner for its prefix"));
    };
    if video.status == Status::Deleted {
        // A late event of a video deleted since (or an object a racing complete made): it goes.
        super::settle::bury_leftovers(app, &video).await?;
        return Ok(Arrival::Ignored("the video was deleted; its object is removed"));
    }
    if video.status.is_final() {
        return Ok(Arrival::Ignored("the upload is already final"));
    }
    let updated = arrived(app, &video, object).await?;
    tracing::info!(video_id = %video.id, status = updated.status.as_str(), "object created");
    Ok(Arrival::Recorded { id: video.id, status: updated.status })
}

/// The record of `key`: the one the server made for it, or (for an object written under an
/// owner's prefix without one) a new record of its owner, created once whatever the number of
/// events. `None` when its prefix belongs to no known owner.
async fn record_for(
    app: &impl Objects,
    key: &str,
    object: &ObjectInfo,
) -> Result<Option<Video>, UploadError> {
    if let Some(id) = video_id_of(key)
        && let Some(video) = app.videos().get(&id).await?.filter(|v| v.key == key)
    {
        return Ok(Some(video));
    }
    let id = VideoId::for_untracked_key(key);
    if let Some(video) = app.videos().get(&id).await? {
        return Ok(Some(video));
    }
    let Some(prefix) = prefix_of(key) else { return Ok(None) };
    let Some(owner) = app.videos().prefix_owner(prefix).await? else { return Ok(None) };
    let filename = key.rsplit('/').next().unwrap_or(key).to_owned();
    let upload = NewUpload {
        content_type: video_type_of(&filename).unwrap_or("application/octet-stream").to_owned(),
        filename,
        extension: "",
        size: Some(object.size),
        plan: PartPlan { part_size: app.config().default_part_size, part_count: None },
        metadata: Default::default(),
        method: UploadMethod::Credentials,
        checksum_algorithm: None,
    };
    let now = time::now();
    let video = Video::uploading(id, owner, key.to_owned(), upload, None, now, now + app.config().upload_ttl);
    match app.videos().insert(&video).await {
        Ok(()) => Ok(Some(video)),
        // A duplicate event got there first.
        Err(StoreError::ConditionFailed) => Ok(app.videos().get(&id).await?),
        Err(e) => Err(e.into()),
    }
}
