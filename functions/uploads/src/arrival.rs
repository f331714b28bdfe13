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
use super::start::quota_exceeded;
use crate::app::Objects;
use crate::objects::{ObjectError, ObjectInfo};
use crate::store::StoreError;
use vidgate_domain::keys::{prefix_of, video_id_of};
use vidgate_domain::parts::PartPlan;
use vidgate_domain::upload::video_type_of;
use vidgate_domain::{Change, NewUpload, Status, UploadMethod, Video, VideoId, time};

/// What recording one object did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The record moved to this status.
    Recorded { id: VideoId, status: Status },
    /// Nothing to do, and why.
    Ignored(&'static str),
}

/// Records that the object at `key` exists now; `version` is the one S3's event names.
///
/// Once a record is final, its key is write-once: bytes written there afterwards (a replayed
/// URL, credentials still valid, prefix credentials) are deleted here, version by version, and
/// logged as a `foreign_write` (a metric with an alarm in the template). An uploaded video's
/// checked version stays, and is the only one ever read.
pub async fn record_arrival(
    app: &impl Objects,
    key: &str,
    version: Option<&str>,
) -> Result<Arrival, UploadError> {
    if prefix_of(key).is_none() {
        return Ok(Arrival::Ignored("not a vidgate key"));
    }
    let object = match app.objects().head(key).await {
        Ok(Some(object)) => object,
        Ok(None) => return Ok(Arrival::Ignored("the object is gone")),
        Err(ObjectError::Unreadable(why)) => return unreadable_arrival(app, key, &why).await,
        Err(e) => return Err(e.into()),
    };
    let video = match record_for(app, key, &object).await? {
        Some(Found::Record(video)) => video,
        Some(Found::OverQuota(video)) => {
            app.objects().delete(key).await?;
            tracing::warn!(event = "prefix_write_over_quota", video_id = %video.id, "rejected and deleted");
            return Ok(Arrival::Recorded { id: video.id, status: video.status });
        }
        None => return Ok(Arrival::Ignored("no upload record for this key and no owner for its prefix")),
    };
    if video.status == Status::Deleted {
        // A late event of a video deleted since (or an object a racing complete made): it goes.
        super::settle::bury_leftovers(app, &video).await?;
        return Ok(Arrival::Ignored("the video was deleted; its object is removed"));
    }
    if video.status.is_final() {
        return remove_foreign(app, &video, &object, version).await;
    }
    let by = video.assembler();
    let updated = arrived(app, &video, object, by).await?;
    tracing::info!(video_id = %video.id, status = updated.status.as_str(), "object created");
    Ok(Arrival::Recorded { id: video.id, status: updated.status })
}

/// An object S3 won't read back: its upload is rejected with the reason, and the object goes
/// whatever its record says (an unknown key's too).
async fn unreadable_arrival(app: &impl Objects, key: &str, why: &str) -> Result<Arrival, UploadError> {
    let video = match video_id_of(key) {
        Some(id) => app.videos().get(&id).await?.filter(|v| v.key == key),
        None => None,
    };
    match video {
        Some(video) if video.status == Status::Uploading => {
            let updated = super::settle::unreadable(app, &video, why).await?;
            Ok(Arrival::Recorded { id: video.id, status: updated.status })
        }
        Some(video) if video.status == Status::Uploaded => {
            // The checked version is still readable; only what was written over it is not.
            // Its event names the version, which `remove_foreign` deletes; here, nothing to read.
            Ok(Arrival::Ignored("an unreadable write over an uploaded video"))
        }
        _ => {
            app.objects().delete(key).await?;
            Ok(Arrival::Ignored("an unreadable object without an upload; deleted"))
        }
    }
}

/// Bytes written at the key of a final record. An uploaded video keeps its checked version and
/// loses every other one named (the event's, and the current one if it is not the checked); a
/// rejected, aborted or expired record keeps none.
async fn remove_foreign(
    app: &impl Objects,
    video: &Video,
    current: &ObjectInfo,
    version: Option<&str>,
) -> Result<Arrival, UploadError> {
    let versions = match (video.status, video.version_id.as_deref()) {
        // Recorded before versions were (or on a bucket that keeps none): nothing to tell apart.
        (Status::Uploaded, None) => return Ok(Arrival::Ignored("the upload is already final")),
        (Status::Uploaded, Some(checked)) => {
            let mut foreign: Vec<&str> = Vec::new();
            for named in [version, current.version.as_deref()].into_iter().flatten() {
                if named != checked && !foreign.contains(&named) {
                    foreign.push(named);
                }
            }
            if foreign.is_empty() {
                return Ok(Arrival::Ignored("the upload is already final"));
            }
            for named in &foreign {
                app.objects().delete_version(&video.key, named).await?;
            }
            foreign.len()
        }
        _ => {
            app.objects().delete(&video.key).await?;
            1
        }
    };
    tracing::warn!(
        event = "foreign_write",
        video_id = %video.id,
        status = video.status.as_str(),
        versions,
        "bytes written over a final video were deleted"
    );
    Ok(Arrival::Ignored("bytes written after the upload was final; deleted"))
}

/// What [`record_for`] found or made.
enum Found {
    Record(Video),
    /// A record made now for an object written under a prefix past its owner's quota: rejected,
    /// with the reason; the object is to go.
    OverQuota(Video),
}

/// The record of `key`: the one the server made for it, or (for an object written under an
/// owner's prefix without one) a new record of its owner, created once whatever the number of
/// events. `None` when its prefix belongs to no known owner.
async fn record_for(
    app: &impl Objects,
    key: &str,
    object: &ObjectInfo,
) -> Result<Option<Found>, UploadError> {
    if let Some(id) = video_id_of(key)
        && let Some(video) = app.videos().get(&id).await?.filter(|v| v.key == key)
    {
        return Ok(Some(Found::Record(video)));
    }
    let id = VideoId::for_untracked_key(key);
    if let Some(video) = app.videos().get(&id).await? {
        return Ok(Some(Found::Record(video)));
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
        auto_complete: false,
    };
    let now = time::now();
    let mut video =
        Video::uploading(id, owner, key.to_owned(), upload, None, now, now + app.config().upload_ttl);
    video.quota_bytes = Some(object.size);
    // The same quota transaction as a start: prefix credentials can't write past the quota.
    let existing = async || Ok(app.videos().get(&id).await?.map(Found::Record));
    let over = match app.videos().start(&video, &app.config().quota).await {
        Ok(()) => return Ok(Some(Found::Record(video))),
        // A duplicate event got there first.
        Err(StoreError::ConditionFailed) => return existing().await,
        Err(StoreError::QuotaExceeded(held)) => quota_exceeded(&app.config().quota, held, &video),
        Err(e) => return Err(e.into()),
    };
    // Over the quota: recorded (so the owner sees why) as rejected, holding nothing; the caller
    // deletes the object.
    video.quota_bytes = None;
    match app.videos().insert(&video).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return existing().await,
        Err(e) => return Err(e.into()),
    }
    let reason = format!("{over}; deleted");
    let change = Change::Reject { size: object.size, etag: object.etag.clone(), reason };
    Ok(Some(Found::OverQuota(super::settle::record(app, &video, &change).await?)))
}
