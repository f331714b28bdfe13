//! The S3 adapter of `ObjectStore`.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::{ObjectError, ObjectInfo, ObjectStore, PartRef, UploadedPart};
use crate::aws::{Failure, classify};

pub struct S3ObjectStore {
    client: Client,
    /// The same client, on the accelerate endpoint when enabled; used only to presign.
    presigner: Client,
    bucket: String,
}

impl S3ObjectStore {
    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str, path_style: bool) -> Self {
        Self::with_acceleration(sdk, bucket, path_style, false)
    }

    /// With `accelerate`, presigned URLs point at the Transfer Acceleration endpoint, so clients
    /// far from the bucket's region upload and download through the nearest edge.
    pub fn with_acceleration(
        sdk: &aws_config::SdkConfig,
        bucket: &str,
        path_style: bool,
        accelerate: bool,
    ) -> Self {
        let config = aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style);
        Self {
            client: Client::from_conf(config.clone().build()),
            presigner: Client::from_conf(config.accelerate(accelerate).build()),
            bucket: bucket.to_owned(),
        }
    }
}

fn object_error<E>(err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> ObjectError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match classify(&err) {
        Failure::Unavailable(why) => ObjectError::Unavailable(why),
        Failure::Service { code, .. } if code == "NoSuchUpload" => ObjectError::NoSuchUpload,
        Failure::Service { code, .. } if code == "NoSuchKey" => ObjectError::NoSuchKey,
        Failure::Service { code, message }
            if matches!(code.as_str(), "InvalidPart" | "InvalidPartOrder" | "EntityTooSmall") =>
        {
            ObjectError::RejectedParts { code, message }
        }
        Failure::Service { code, message } => ObjectError::Other(format!("{code}: {message}")),
        Failure::Other(why) => ObjectError::Other(why),
    }
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// How long a presigned URL lives (S3 allows up to 7 days).
fn presigning(expires_in: Duration) -> Result<PresigningConfig, ObjectError> {
    PresigningConfig::expires_in(expires_in)
        .map_err(|e| ObjectError::Other(format!("presigning config: {e}")))
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, ObjectError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(object_error)?;
        out.upload_id.ok_or_else(|| ObjectError::Other("CreateMultipartUpload returned no upload id".into()))
    }

    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        expires_in: Duration,
    ) -> Result<String, ObjectError> {
        let presigning = presigning(expires_in)?;
        // No checksum algorithm: a browser would then have to send matching checksum headers.
        let request = self
            .presigner
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(to_i32(part_number))
            .presigned(presigning)
            .await
            .map_err(object_error)?;
        Ok(request.uri().to_string())
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<String, ObjectError> {
        let presigning = presigning(expires_in)?;
        let request = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .presigned(presigning)
            .await
            .map_err(object_error)?;
        Ok(request.uri().to_string())
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<UploadedPart>, ObjectError> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.take())
                .send()
                .await
                .map_err(object_error)?;
            for part in out.parts.unwrap_or_default() {
                parts.push(UploadedPart {
                    part_number: part.part_number.unwrap_or_default().max(0) as u32,
                    etag: part.e_tag.unwrap_or_default(),
                    size: part.size.unwrap_or_default().max(0) as u64,
                });
            }
            match (out.is_truncated, out.next_part_number_marker) {
                (Some(true), Some(next)) if !next.is_empty() => marker = Some(next),
                _ => break,
            }
        }
        parts.sort_by_key(|p| p.part_number);
        Ok(parts)
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[PartRef],
    ) -> Result<String, ObjectError> {
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|p| {
                        CompletedPart::builder().part_number(to_i32(p.part_number)).e_tag(&p.etag).build()
                    })
                    .collect(),
            ))
            .build();
        let out = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(completed)
            .send()
            .await
            .map_err(object_error)?;
        Ok(out.e_tag.unwrap_or_default())
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), ObjectError> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(object_error)?;
        Ok(())
    }

    async fn abort_all_multipart(&self, key: &str) -> Result<usize, ObjectError> {
        let mut aborted = 0;
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        loop {
            let out = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(key)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await
                .map_err(object_error)?;
            for upload in out.uploads.unwrap_or_default() {
                if let (Some(k), Some(id)) = (upload.key.as_deref(), upload.upload_id.as_deref())
                    && k == key
                {
                    match self.abort_multipart(k, id).await {
                        Ok(()) => aborted += 1,
                        Err(ObjectError::NoSuchUpload) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            if out.is_truncated != Some(true) {
                return Ok(aborted);
            }
            key_marker = out.next_key_marker;
            id_marker = out.next_upload_id_marker;
            if key_marker.is_none() && id_marker.is_none() {
                return Ok(aborted);
            }
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(Some(ObjectInfo {
                size: out.content_length.unwrap_or_default().max(0) as u64,
                etag: out.e_tag.unwrap_or_default(),
            })),
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => Ok(None),
            Err(e) => Err(object_error(e)),
        }
    }

    async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Vec<u8>, ObjectError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes={start}-{end}"))
            .send()
            .await
            .map_err(object_error)?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| ObjectError::Unavailable(format!("reading object body: {e}")))?;
        // Zero-copy when the body arrived in one piece.
        Ok(Vec::from(bytes.into_bytes()))
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, ObjectError> {
        let presigning = presigning(expires_in)?;
        let request = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(object_error)?;
        Ok(request.uri().to_string())
    }
}
