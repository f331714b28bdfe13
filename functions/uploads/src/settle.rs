//! The moves every path shares when an upload ends: recording what arrived, and settling a record
//! once S3 no longer has an upload open for it.
//!
//! S3 decides races between complete and abort: only one of CompleteMultipartUpload and
//! AbortMultipartUpload can succeed for an upload id. Once S3 has forgotten the upload, the object
//! either exists (a complete won) or not (an abort won, or the upload was abandoned), whatever
//! DynamoDB says yet. [`settle`] makes the record agree, with the same conditional write as
//! everywhere, so a crash between an S3 call and the DynamoDB write is repaired by the next call
//! of any route, the S3 event, or the sweeper.

use super::UploadError;
use super::probe::probe;
use crate::Config;
use crate::app::{Objects, Records};
use crate::objects::{ObjectError, ObjectInfo};
use crate::store::StoreError;
use vidgate_domain::link;
use vidgate_domain::media::{self, Media};
use vidgate_domain::sniff::{SNIFF_BYTES, container, rejection};
use vidgate_domain::{Change, CompletedBy, Status, Video, time};

/// Aborts whatever S3 holds open for an upload: the server's multipart upload (presigned mode)
/// or every multipart upload a client's SDK left on the key (credentials mode). Returns how many
/// were aborted; one already gone (an earlier abort, or a complete that won) counts as none.
pub(super) async fn abort_open_uploads(app: &impl Objects, video: &Video) -> Result<usize, UploadError> {
    let aborted = match &video.upload_id {
        Some(upload_id) => app.objects().abort_multipart(&video.key, upload_id).await.map(|()| 1),
        None => app.objects().abort_all_multipart(&video.key).await,
    };
    match aborted {
        Ok(n) => Ok(n),
        Err(ObjectError::NoSuchUpload) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Removes what S3 holds for a deleted video: any multipart upload still open on its key, and its
/// object. Idempotent: nothing left is nothing to do.
pub(super) async fn bury_leftovers(app: &impl Objects, video: &Video) -> Result<(), UploadError> {
    debug_assert_eq!(video.status, Status::Deleted);
    let aborted = match app.objects().abort_all_multipart(&video.key).await {
        Ok(n) => n,
        Err(ObjectError::NoSuchUpload) => 0,
        Err(e) => return Err(e.into()),
    };
    if let Some(upload_id) = &video.upload_id {
        match app.objects().abort_multipart(&video.key, upload_id).await {
            Ok(()) | Err(ObjectError::NoSuchUpload) => {}
            Err(e) => return Err(e.into()),
        }
    }
    match app.objects().delete(&video.key).await {
        Ok(()) | Err(ObjectError::NoSuchKey) => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(video_id = %video.id, aborted, "deleted video's objects removed");
    Ok(())
}

/// Brings a record in line with S3 once no upload is open for it: the object exists → it
/// arrived (assembled by [`Video::assembler`]); it does not → `absent` (abort or expire).
pub(super) async fn settle(app: &impl Objects, video: &Video, absent: Change) -> Result<Video, UploadError> {
    settle_counted(app, video, absent, None).await.map(|(video, _)| video)
}

/// [`settle`], knowing who assembled an object that exists (`by`), and telling whether this
/// call made the change (not a concurrent one).
pub(super) async fn settle_counted(
    app: &impl Objects,
    video: &Video,
    absent: Change,
    by: Option<CompletedBy>,
) -> Result<(Video, bool), UploadError> {
    let current = app.videos().get(&video.id).await?.ok_or(UploadError::Vanished(video.id))?;
    if current.status.is_final() {
        return Ok((current, false));
    }
    match app.objects().head(&current.key).await {
        Ok(Some(object)) => {
            let by = by.unwrap_or_else(|| current.assembler());
            Ok((arrived(app, &current, object, by).await?, true))
        }
        Ok(None) => record_counted(app, &current, &absent).await,
        Err(ObjectError::Unreadable(why)) => Ok((unreadable(app, &current, &why).await?, true)),
        Err(e) => Err(e.into()),
    }
}

/// An object S3 won't read back (written with SSE-C or an archive storage class, which the
/// bucket policy refuses in AWS): `rejected` with S3's reason, and deleted, so it neither stalls
/// the sweeper nor holds storage.
pub(super) async fn unreadable(app: &impl Objects, video: &Video, why: &str) -> Result<Video, UploadError> {
    let reason = format!("S3 can't read the object back ({why}); deleted");
    let updated = record(app, video, &Change::Reject { size: 0, etag: String::new(), reason }).await?;
    app.objects().delete(&video.key).await?;
    tracing::warn!(video_id = %video.id, why, "unreadable object rejected and deleted");
    Ok(updated)
}

/// Records an object that now exists: `uploaded` if it is a video ([`examine`]), `rejected` with
/// the reason if not. An object larger than its upload may be (the maximum video size, or the
/// size it declared) is `rejected` and deleted: credentials-mode and `signRequest` clients write
/// objects S3 could not hold to a length.
pub(super) async fn arrived(
    app: &impl Objects,
    video: &Video,
    object: ObjectInfo,
    by: CompletedBy,
) -> Result<Video, UploadError> {
    if let Some(reason) = oversize(app.config(), video, "the object is", object.size) {
        let change = Change::Reject { size: object.size, etag: object.etag, reason };
        let updated = record(app, video, &change).await?;
        if updated.status == Status::Deleted {
            bury_leftovers(app, &updated).await?;
        }
        if updated.status == Status::Rejected {
            app.objects().delete(&video.key).await?;
            tracing::warn!(video_id = %video.id, size = object.size, "over-size object rejected and deleted");
        }
        return Ok(updated);
    }
    let head = if object.size == 0 {
        Vec::new()
    } else {
        let end = SNIFF_BYTES.min(object.size) - 1;
        match app.objects().get_range(&video.key, object.version.as_deref(), 0, end).await {
            Ok(head) => head,
            Err(ObjectError::Unreadable(why)) => return unreadable(app, video, &why).await,
            Err(e) => return Err(e.into()),
        }
    };
    let sniffed = container(&head);
    let examined = examine(app, video, &object, head).await?.and_then(|media| {
        // The upload link's limits and the deployment's longest duration, from what was read.
        let kind = media.as_ref().map(|m| m.container.as_str()).or(sniffed);
        let max_duration = app.config().max_video_duration;
        match link::breaks(video.limits.as_ref(), max_duration, kind, media.as_deref()) {
            Some(reason) => Err(reason),
            None => Ok(media),
        }
    });
    let change = match examined {
        Ok(media) => Change::Complete {
            by,
            size: object.size,
            etag: object.etag,
            checksum: object.checksum,
            version: object.version,
            media,
        },
        Err(reason) => Change::Reject { size: object.size, etag: object.etag, reason },
    };
    let updated = record(app, video, &change).await?;
    if updated.status == Status::Deleted {
        // Deleted while this object was being made (a complete racing the delete): it goes too.
        bury_leftovers(app, &updated).await?;
    }
    if updated.status == Status::Rejected {
        // The reason is recorded; bytes that are no video are kept by nobody and bounded by no
        // quota, so they go.
        app.objects().delete(&video.key).await?;
    }
    Ok(updated)
}

/// Whether an object starting with `head` is a video: its media facts when vidgate reads its
/// container (MP4/QuickTime, WebM/Matroska: ranged GETs of the header), `None` for the other
/// containers it accepts by signature; `Err` is why it is not a video, or not one that can be read.
async fn examine(
    app: &impl Objects,
    video: &Video,
    object: &ObjectInfo,
    head: Vec<u8>,
) -> Result<Result<Option<Box<Media>>, String>, UploadError> {
    if let Some(reason) = rejection(&head) {
        return Ok(Err(reason));
    }
    let Some(container) = container(&head).filter(|c| media::probed(c)) else {
        return Ok(Ok(None));
    };
    let probe = probe(app, &video.key, object, container, head).await?;
    tracing::info!(
        video_id = %video.id,
        requests = probe.requests,
        bytes = probe.bytes,
        parse_us = probe.parse_time.as_micros() as u64,
        readable = probe.outcome.is_ok(),
        "video header read"
    );
    Ok(probe.outcome.map(|media| Some(Box::new(media))))
}

/// Why `size` bytes (`what`: "the object is") are too many for `video`, if they are.
pub(super) fn oversize(config: &Config, video: &Video, what: &str, size: u64) -> Option<String> {
    if size > config.max_video_size {
        return Some(format!(
            "{what} {size} bytes, more than the maximum video size of {} bytes; deleted",
            config.max_video_size
        ));
    }
    match video.size {
        Some(declared) if size > declared => {
            Some(format!("{what} {size} bytes, more than the {declared} bytes the upload declared; deleted"))
        }
        _ => None,
    }
}

/// Applies `change`; if another call changed the record first, returns what that call wrote.
pub(super) async fn record(app: &impl Records, video: &Video, change: &Change) -> Result<Video, UploadError> {
    record_counted(app, video, change).await.map(|(video, _)| video)
}

async fn record_counted(
    app: &impl Records,
    video: &Video,
    change: &Change,
) -> Result<(Video, bool), UploadError> {
    match app.videos().transition(video, change, time::now()).await {
        Ok(updated) => Ok((updated, true)),
        Err(StoreError::ConditionFailed) => {
            Ok((app.videos().get(&video.id).await?.ok_or(UploadError::Vanished(video.id))?, false))
        }
        Err(e) => Err(e.into()),
    }
}
