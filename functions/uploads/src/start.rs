//! Starting an upload: the record first, then what S3 (or STS) needs for its method.

use std::collections::BTreeMap;

use super::settle::record;
use super::{Grant, UploadError, grant};
use crate::app::{Credentials, Objects};
use crate::config::Quota;
use crate::objects::PostForm;
use crate::store::{QuotaUse, StoreError};
use vidgate_domain::link::UploadLink;
use vidgate_domain::time;
use vidgate_domain::{Change, NewUpload, Owner, UploadMethod, Video, VideoId, keys};

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
    let video = record_start(app, owner, upload, None).await?;
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
/// the record — with `link` spent in the same write when an upload link starts it.
pub(super) async fn record_start(
    app: &impl Objects,
    owner: &Owner,
    upload: NewUpload,
    link: Option<&UploadLink>,
) -> Result<Video, UploadError> {
    let id = VideoId::new();
    let key = keys::object_key(owner, &id, upload.extension);
    let upload_id = match upload.method {
        UploadMethod::Presigned => {
            Some(app.objects().create_multipart(&key, &upload.content_type, upload.checksum_algorithm).await?)
        }
        UploadMethod::Credentials | UploadMethod::Put | UploadMethod::Signed => None,
    };
    let now = time::now();
    let config = app.config();
    let expires_at = now + config.upload_ttl;
    let mut video = Video::uploading(id, owner.clone(), key, upload, upload_id, now, expires_at);
    // What it may still store: its declared size, or any size up to the maximum.
    video.quota_bytes = Some(video.size.unwrap_or(config.max_video_size));
    let written = match link {
        None => app.videos().start(&video, &config.quota).await,
        Some(link) => {
            video.link_id = Some(link.link_id);
            video.limits = Some(link.limits.clone()).filter(|l| *l != Default::default());
            app.videos().start_with_link(&video, &config.quota, &link.link_id, now).await
        }
    };
    if let Err(err) = written {
        // Without a record nobody could ever complete or abort it: don't leave it in S3.
        if let Some(upload_id) = &video.upload_id
            && let Err(abort) = app.objects().abort_multipart(&video.key, upload_id).await
        {
            tracing::error!(key = %video.key, error = %abort, "could not abort an unrecorded multipart upload");
        }
        return Err(match err {
            StoreError::QuotaExceeded(held) => quota_exceeded(&config.quota, held, &video),
            StoreError::LinkSpent => super::links::spent(),
            other => other.into(),
        });
    }
    Ok(video)
}

pub(super) fn quota_exceeded(quota: &Quota, held: QuotaUse, video: &Video) -> UploadError {
    let asked = video.quota_bytes.unwrap_or(0);
    let unknown =
        if video.size.is_none() { " (an upload of unknown size holds the maximum video size)" } else { "" };
    UploadError::QuotaExceeded(if held.uploads >= u64::from(quota.uploads) {
        format!(
            "you have {} uploads in progress, the most allowed at once; finish or abort one first",
            held.uploads
        )
    } else if held.bytes.saturating_add(asked) > quota.bytes {
        format!(
            "your uploads in progress hold {} of {} bytes and this one needs {asked}{unknown}; finish or abort one first",
            held.bytes, quota.bytes,
        )
    } else {
        format!(
            "your videos and uploads keep {} of the {} bytes you may store and this one needs {asked}{unknown}; delete a video first",
            held.stored, quota.stored,
        )
    })
}

/// Where a put-mode upload sends its bytes: one `PUT` with these headers.
pub struct PutTarget {
    pub url: String,
    pub headers: BTreeMap<&'static str, String>,
}

/// The one presigned `PUT` of a put-mode upload, with its signed `Content-Type` and (the size
/// being declared) `Content-Length`. Presigning is local signing: the record needs no undo if it
/// failed.
pub async fn put_target(app: &impl Objects, video: &Video) -> Result<PutTarget, UploadError> {
    let (ttl, _) = super::parts::url_lifetime(app, app.config().part_url_ttl).await?;
    let url = app.objects().presign_put(&video.key, &video.content_type, video.size, ttl).await?;
    // Both are signed: the stored type stays the video's, and a replay of the URL once the object
    // exists is refused by S3 (412) rather than writing over what was checked.
    let headers =
        BTreeMap::from([("content-type", video.content_type.clone()), ("if-none-match", "*".to_owned())]);
    Ok(PutTarget { url, headers })
}

/// The presigned POST form of a single-object upload of unknown size (Companion's
/// `/s3/params`): S3 holds the file to 1 byte .. the maximum video size.
pub async fn post_target(app: &impl Objects, video: &Video) -> Result<PostForm, UploadError> {
    let config = app.config();
    let most = video.size.unwrap_or(config.max_video_size);
    let (ttl, _) = super::parts::url_lifetime(app, config.part_url_ttl).await?;
    let form = app.objects().presign_post(&video.key, &video.content_type, 1..=most, ttl).await?;
    Ok(form)
}
