//! Starting an upload: the record first, then what S3 (or STS) needs for its method.

use std::collections::BTreeMap;

use super::settle::record;
use super::{Grant, UploadError, grant};
use crate::app::{Credentials, Objects};
use crate::domain::time;
use crate::domain::{Change, NewUpload, Owner, UploadMethod, Video, VideoId, keys};

/// A recorded upload, and the credentials of a credentials-mode one.
pub struct Started {
    pub video: Video,
    pub credentials: Option<Grant>,
}

/// Records a new upload of `owner`'s and prepares S3 for it: the multipart upload (presigned
/// mode) or credentials for the key (credentials mode). Put and signed uploads need nothing yet.
pub async fn start(
    app: &(impl Objects + Credentials),
    owner: &Owner,
    upload: NewUpload,
) -> Result<Started, UploadError> {
    let video = record_start(app, owner, upload).await?;
    // Credentials come after the record exists, so no credentials ever name an untracked key.
    let credentials = match video.method {
        UploadMethod::Presigned | UploadMethod::Put | UploadMethod::Signed => None,
        UploadMethod::Credentials => match grant(app, &video).await {
            Ok(credentials) => Some(credentials),
            Err(err) => {
                if let Err(abort) = record(app, &video, &Change::Abort).await {
                    tracing::error!(video_id = %video.id, error = %abort, "could not abort an upload without credentials");
                }
                return Err(err);
            }
        },
    };
    Ok(Started { video, credentials })
}

/// The part of [`start`] every method shares: the S3 multipart upload of a presigned one, and
/// the record.
pub(super) async fn record_start(
    app: &impl Objects,
    owner: &Owner,
    upload: NewUpload,
) -> Result<Video, UploadError> {
    let id = VideoId::new();
    let key = keys::object_key(owner, &id, upload.extension);
    let upload_id = match upload.method {
        UploadMethod::Presigned => Some(app.objects().create_multipart(&key, &upload.content_type).await?),
        UploadMethod::Credentials | UploadMethod::Put | UploadMethod::Signed => None,
    };
    let now = time::now();
    let expires_at = now + app.config().upload_ttl;
    let video = Video::uploading(id, owner.clone(), key, upload, upload_id, now, expires_at);
    if let Err(err) = app.videos().insert(&video).await {
        // Without a record nobody could ever complete or abort it: don't leave it in S3.
        if let Some(upload_id) = &video.upload_id
            && let Err(abort) = app.objects().abort_multipart(&video.key, upload_id).await
        {
            tracing::error!(key = %video.key, error = %abort, "could not abort an unrecorded multipart upload");
        }
        return Err(err.into());
    }
    Ok(video)
}

/// Where a put-mode upload sends its bytes: one `PUT` with these headers.
pub struct PutTarget {
    pub url: String,
    pub headers: BTreeMap<&'static str, String>,
}

/// The one presigned `PUT` of a put-mode upload, with its signed `Content-Type`. Presigning is
/// local signing: the record needs no undo if it failed.
pub async fn put_target(app: &impl Objects, video: &Video) -> Result<PutTarget, UploadError> {
    let ttl = app.config().part_url_ttl;
    let url = app.objects().presign_put(&video.key, &video.content_type, ttl).await?;
    let headers = BTreeMap::from([("content-type", video.content_type.clone())]);
    Ok(PutTarget { url, headers })
}
