//! Uploads whose client runs S3's API itself (Uppy 6's `signRequest`): vidgate presigns each
//! request for one key of the caller's, and records the upload when the first request starts it.
//! S3's event records the arrival.

use std::time::Duration;

use super::start::record_start;
use super::{UploadError, abort, owned, require_uploading};
use crate::app::Objects;
use crate::objects::{ClientRequest, PartUpload};
use vidgate_domain::keys::video_id_of;
use vidgate_domain::parts::MIN_PART_SIZE;
use vidgate_domain::{NewUpload, Owner, UploadMethod, Video};

/// One S3 request the client is about to send.
pub enum ClientCall<'a> {
    /// PutObject: a single-object upload starts (recorded as `put`).
    PutObject(NewUpload),
    /// CreateMultipartUpload: a multipart upload the client runs starts (recorded as `signed`).
    CreateMultipart(NewUpload),
    UploadPart {
        key: &'a str,
        upload_id: &'a str,
        part_number: u32,
    },
    ListParts {
        key: &'a str,
        upload_id: &'a str,
    },
    Complete {
        key: &'a str,
        upload_id: &'a str,
    },
    /// The client gives up: vidgate aborts what is open on the key and records it now; the URL
    /// lets the client send the abort it always sends (S3 then answers NoSuchUpload).
    Abort {
        key: &'a str,
        upload_id: &'a str,
    },
}

/// The presigned URL, and the upload's record when this request started it.
pub struct Presigned {
    pub url: String,
    pub started: Option<Video>,
}

/// Presigns `call` for `owner`, valid for `expires_in` (at most the part-URL lifetime).
pub async fn sign_client_request(
    app: &impl Objects,
    owner: &Owner,
    call: ClientCall<'_>,
    expires_in: Option<Duration>,
) -> Result<Presigned, UploadError> {
    let most = app.config().part_url_ttl;
    let (ttl, _) = super::parts::url_lifetime(app, expires_in.map_or(most, |asked| asked.min(most))).await?;
    let (video, request) = match call {
        ClientCall::PutObject(upload) => return start(app, owner, upload, UploadMethod::Put, ttl).await,
        ClientCall::CreateMultipart(upload) => {
            return start(app, owner, upload, UploadMethod::Signed, ttl).await;
        }
        ClientCall::UploadPart { key, upload_id, part_number } => {
            // Parts are at least 5 MiB, so numbers past this could only carry bytes beyond the
            // maximum video size.
            let max = app.config().size_rules().max_parts_unknown(MIN_PART_SIZE);
            if !(1..=max).contains(&part_number) {
                return Err(UploadError::invalid(
                    "invalid_part_numbers",
                    format!("partNumber must be 1 to {max}"),
                ));
            }
            let video = signed_upload(app, owner, key).await?;
            // Uppy's signRequest says nothing of the part's length: S3 can't hold it to one, and
            // the object is checked when its event arrives.
            let part =
                PartUpload { key: &video.key, upload_id, part_number, content_length: None, checksum: None };
            let url = app.objects().presign_part(part, ttl).await?;
            return Ok(Presigned { url, started: None });
        }
        ClientCall::ListParts { key, upload_id } => {
            (signed_upload(app, owner, key).await?, ClientRequest::ListParts { upload_id })
        }
        ClientCall::Complete { key, upload_id } => {
            (signed_upload(app, owner, key).await?, ClientRequest::Complete { upload_id })
        }
        ClientCall::Abort { key, upload_id } => {
            let video = signed_upload(app, owner, key).await?;
            abort(app, video.clone()).await?;
            (video, ClientRequest::Abort { upload_id })
        }
    };
    let url = app.objects().presign_request(&video.key, request, ttl).await?;
    Ok(Presigned { url, started: None })
}

async fn start(
    app: &impl Objects,
    owner: &Owner,
    mut upload: NewUpload,
    method: UploadMethod,
    ttl: Duration,
) -> Result<Presigned, UploadError> {
    upload.method = method;
    let video = record_start(app, owner, upload, None).await?;
    let request = match method {
        UploadMethod::Put => ClientRequest::PutObject,
        _ => ClientRequest::CreateMultipart,
    };
    let url = app.objects().presign_request(&video.key, request, ttl).await?;
    Ok(Presigned { url, started: Some(video) })
}

/// The caller's signed upload at `key`, still in progress.
async fn signed_upload(app: &impl Objects, owner: &Owner, key: &str) -> Result<Video, UploadError> {
    let id = video_id_of(key).ok_or(UploadError::NotFound)?;
    let video = owned(app, owner, &id).await?;
    if video.key != key || video.method != UploadMethod::Signed {
        return Err(UploadError::NotFound);
    }
    require_uploading(&video)?;
    Ok(video)
}
