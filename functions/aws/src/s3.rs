//! The S3 adapter of `ObjectStore`.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{
    ChecksumAlgorithm as S3Algorithm, ChecksumMode, ChecksumType as S3Type, CompletedMultipartUpload,
    CompletedPart,
};

use aws_credential_types::provider::SharedCredentialsProvider;

use crate::sdk::{Failure, classify};
use vidgate_domain::checksum::{Checksum, ChecksumAlgorithm, ChecksumType};
use vidgate_domain::time::Timestamp;
use vidgate_uploads::objects::{
    Assembled, ClientRequest, ObjectError, ObjectInfo, ObjectStore, PartRef, PartUpload, PostForm,
    UploadedPart,
};

pub struct S3ObjectStore {
    /// Signs the multipart requests the SDK can't presign (it presigns only object and part
    /// requests), with the same credentials and region.
    credentials: Option<SharedCredentialsProvider>,
    region: String,
    client: Client,
    /// The same client, on the accelerate endpoint when enabled; used only to presign.
    presigner: Client,
    bucket: String,
    bucket_url: String,
}

impl S3ObjectStore {
    /// Aborts every multipart upload open on exactly `key_or_prefix` (`exact`), or on any key
    /// under it; returns how many.
    async fn abort_under(&self, key_or_prefix: &str, exact: bool) -> Result<usize, ObjectError> {
        let mut aborted = 0;
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        loop {
            let out = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(key_or_prefix)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await
                .map_err(object_error)?;
            for upload in out.uploads.unwrap_or_default() {
                if let (Some(k), Some(id)) = (upload.key.as_deref(), upload.upload_id.as_deref())
                    && (!exact || k == key_or_prefix)
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

    /// Deletes every version and delete marker of exactly `key_or_prefix` (`exact`) or of every
    /// key under it, so nothing of the objects stays in a versioned bucket (on an unversioned one
    /// S3 lists each object once, as version `null`); returns how many keys had any.
    async fn delete_versions(&self, key_or_prefix: &str, exact: bool) -> Result<usize, ObjectError> {
        let mut keys = std::collections::BTreeSet::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let out = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key_or_prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(object_error)?;
            let versions = out.versions.unwrap_or_default().into_iter().map(|v| (v.key, v.version_id));
            let markers = out.delete_markers.unwrap_or_default().into_iter().map(|m| (m.key, m.version_id));
            for (key, version) in versions.chain(markers) {
                let (Some(key), Some(version)) = (key, version) else { continue };
                if exact && key != key_or_prefix {
                    continue;
                }
                self.delete_version(&key, &version).await?;
                keys.insert(key);
            }
            if out.is_truncated != Some(true) {
                return Ok(keys.len());
            }
            key_marker = out.next_key_marker;
            version_marker = out.next_version_id_marker;
            if key_marker.is_none() && version_marker.is_none() {
                return Ok(keys.len());
            }
        }
    }

    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str, path_style: bool) -> Self {
        Self::with_acceleration(sdk, bucket, path_style, false)
    }

    /// Presigns with `credentials` rather than the function's own (its role's): a dedicated
    /// signing identity whose URLs live as long as they say ([`crate::signing`]), or the local
    /// stack's expiring ones.
    pub fn signing_with(mut self, credentials: SharedCredentialsProvider) -> Self {
        let config = self.presigner.config().to_builder().credentials_provider(credentials.clone());
        self.presigner = Client::from_conf(config.build());
        self.credentials = Some(credentials);
        self
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
        let region = sdk.region().map_or("us-east-1", |r| r.as_ref());
        Self {
            credentials: sdk.credentials_provider(),
            region: region.to_owned(),
            client: Client::from_conf(config.clone().build()),
            presigner: Client::from_conf(config.accelerate(accelerate).build()),
            bucket: bucket.to_owned(),
            bucket_url: bucket_url(sdk.endpoint_url(), bucket, region, path_style, accelerate),
        }
    }
}

/// How long temporary credentials that state no expiry are taken to last from any moment
/// (Lambda's: a role session's default).
pub const UNSTATED_SESSION_LIFE: chrono::Duration = chrono::Duration::hours(1);

/// What S3 keeps unescaped in a path segment or query value (RFC 3986 unreserved).
const S3_ESCAPED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn upload_query(upload_id: &str) -> String {
    format!("uploadId={}", percent_encoding::utf8_percent_encode(upload_id, S3_ESCAPED))
}

impl S3ObjectStore {
    /// A SigV4 query-string presigned URL for `method` on `key` with `query`, as S3 checks it:
    /// no double encoding, no path normalisation, `UNSIGNED-PAYLOAD`, and `headers` signed (the
    /// client must send exactly these values).
    async fn presign_raw(
        &self,
        method: &str,
        key: &str,
        query: &str,
        headers: &[(&str, &str)],
        expires_in: Duration,
    ) -> Result<String, ObjectError> {
        self.presign_raw_at(method, key, query, headers, expires_in, std::time::SystemTime::now()).await
    }

    async fn signing_credentials(&self) -> Result<aws_credential_types::Credentials, ObjectError> {
        use aws_credential_types::provider::ProvideCredentials;
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| ObjectError::Other("no credentials to presign with".into()))?;
        provider
            .provide_credentials()
            .await
            .map_err(|e| ObjectError::Unavailable(format!("credentials: {e}")))
    }

    async fn presign_raw_at(
        &self,
        method: &str,
        key: &str,
        query: &str,
        headers: &[(&str, &str)],
        expires_in: Duration,
        at: std::time::SystemTime,
    ) -> Result<String, ObjectError> {
        use aws_sigv4::http_request::{
            PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
            UriPathNormalizationMode, sign,
        };
        let identity = self.signing_credentials().await?.into();
        let path: Vec<String> = key
            .split('/')
            .map(|s| percent_encoding::utf8_percent_encode(s, S3_ESCAPED).to_string())
            .collect();
        let url = match query {
            "" => format!("{}/{}", self.bucket_url, path.join("/")),
            query => format!("{}/{}?{query}", self.bucket_url, path.join("/")),
        };

        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires_in);
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(at)
            .settings(settings)
            .build()
            .map_err(|e| ObjectError::Other(format!("signing parameters: {e}")))?
            .into();
        let signable = SignableRequest::new(
            method,
            url.as_str(),
            headers.iter().copied(),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| ObjectError::Other(format!("presigning {method}: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| ObjectError::Other(format!("presigning {method}: {e}")))?
            .into_parts();
        let mut signed = url;
        for (name, value) in instructions.params() {
            signed.push(if signed.contains('?') { '&' } else { '?' });
            signed.push_str(name);
            signed.push('=');
            signed.push_str(&percent_encoding::utf8_percent_encode(value, S3_ESCAPED).to_string());
        }
        Ok(signed)
    }

    /// A SigV4 POST policy (S3 user guide, "Browser-based uploads using POST"): the policy lists
    /// a condition for every field sent, and its base64 text is what is signed.
    async fn presign_post_at(
        &self,
        key: &str,
        content_type: &str,
        lengths: std::ops::RangeInclusive<u64>,
        expires_in: Duration,
        at: std::time::SystemTime,
    ) -> Result<PostForm, ObjectError> {
        use base64::Engine as _;
        let credentials = self.signing_credentials().await?;
        let now = chrono::DateTime::<chrono::Utc>::from(at);
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let credential = format!(
            "{}/{}/{}/s3/aws4_request",
            credentials.access_key_id(),
            now.format("%Y%m%d"),
            self.region
        );
        let expiration = (now + chrono::Duration::from_std(expires_in).unwrap_or(chrono::Duration::hours(1)))
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let mut fields = vec![
            ("key".to_owned(), key.to_owned()),
            ("Content-Type".to_owned(), content_type.to_owned()),
            ("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
            ("x-amz-credential".to_owned(), credential),
            ("x-amz-date".to_owned(), amz_date),
        ];
        if let Some(token) = credentials.session_token() {
            fields.push(("x-amz-security-token".to_owned(), token.to_owned()));
        }
        let mut conditions = vec![
            serde_json::json!({"bucket": self.bucket}),
            serde_json::json!(["content-length-range", lengths.start(), lengths.end()]),
        ];
        conditions
            .extend(fields.iter().map(|(name, value)| serde_json::json!(["eq", format!("${name}"), value])));
        let policy = serde_json::json!({"expiration": expiration, "conditions": conditions});
        let policy = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
        let signing_key = aws_sigv4::sign::v4::generate_signing_key(
            credentials.secret_access_key(),
            at,
            &self.region,
            "s3",
        );
        let signature = aws_sigv4::sign::v4::calculate_signature(signing_key, policy.as_bytes());
        fields.push(("policy".to_owned(), policy));
        fields.push(("x-amz-signature".to_owned(), signature));
        Ok(PostForm { url: format!("{}/", self.bucket_url), fields })
    }
}

/// Where the bucket's objects are, as presigned URLs address them.
fn bucket_url(
    endpoint: Option<&str>,
    bucket: &str,
    region: &str,
    path_style: bool,
    accelerate: bool,
) -> String {
    match endpoint.map(|e| e.trim_end_matches('/')) {
        Some(endpoint) if path_style => format!("{endpoint}/{bucket}"),
        Some(endpoint) => match endpoint.split_once("://") {
            Some((scheme, host)) => format!("{scheme}://{bucket}.{host}"),
            None => format!("{endpoint}/{bucket}"),
        },
        None if accelerate => format!("https://{bucket}.s3-accelerate.amazonaws.com"),
        None => format!("https://{bucket}.s3.{region}.amazonaws.com"),
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
        Failure::Service { code, .. }
            if code == "PreconditionFailed" || code == "ConditionalRequestConflict" =>
        {
            ObjectError::AlreadyExists
        }
        Failure::Service { code, message }
            if code == "InvalidObjectState"
                || (code == "InvalidRequest" && message.contains("Server Side Encryption")) =>
        {
            ObjectError::Unreadable(format!("{code}: {message}"))
        }
        Failure::Service { code, message }
            if code == "BadDigest"
                || (code == "InvalidRequest" && message.to_lowercase().contains("checksum")) =>
        {
            ObjectError::ChecksumMismatch(format!("{code}: {message}"))
        }
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

fn s3_algorithm(algorithm: ChecksumAlgorithm) -> S3Algorithm {
    match algorithm {
        ChecksumAlgorithm::Crc64nvme => S3Algorithm::Crc64Nvme,
        ChecksumAlgorithm::Crc32c => S3Algorithm::Crc32C,
        ChecksumAlgorithm::Crc32 => S3Algorithm::Crc32,
        ChecksumAlgorithm::Sha256 => S3Algorithm::Sha256,
    }
}

fn s3_type(kind: ChecksumType) -> S3Type {
    match kind {
        ChecksumType::FullObject => S3Type::FullObject,
        ChecksumType::Composite => S3Type::Composite,
    }
}

/// The one checksum among S3's per-algorithm fields, with its type (S3 answers at most one).
fn checksum_of(
    crc64nvme: Option<String>,
    crc32c: Option<String>,
    crc32: Option<String>,
    sha256: Option<String>,
    kind: Option<&S3Type>,
) -> Option<Checksum> {
    let (algorithm, value) = [
        (ChecksumAlgorithm::Crc64nvme, crc64nvme),
        (ChecksumAlgorithm::Crc32c, crc32c),
        (ChecksumAlgorithm::Crc32, crc32),
        (ChecksumAlgorithm::Sha256, sha256),
    ]
    .into_iter()
    .find_map(|(a, v)| v.map(|v| (a, v)))?;
    let kind = match kind {
        Some(S3Type::Composite) => ChecksumType::Composite,
        Some(S3Type::FullObject) => ChecksumType::FullObject,
        // Older answers name no type: a composite value carries its part count.
        _ if value.contains('-') => ChecksumType::Composite,
        _ => ChecksumType::FullObject,
    };
    Some(Checksum { algorithm, kind, value })
}

/// How long a presigned URL lives (S3 allows up to 7 days).
fn presigning(expires_in: Duration) -> Result<PresigningConfig, ObjectError> {
    PresigningConfig::expires_in(expires_in)
        .map_err(|e| ObjectError::Other(format!("presigning config: {e}")))
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        checksum: Option<ChecksumAlgorithm>,
    ) -> Result<String, ObjectError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .set_checksum_algorithm(checksum.map(s3_algorithm))
            .set_checksum_type(checksum.map(|a| s3_type(a.multipart_type())))
            .send()
            .await
            .map_err(object_error)?;
        out.upload_id.ok_or_else(|| ObjectError::Other("CreateMultipartUpload returned no upload id".into()))
    }

    async fn signing_expiry(&self) -> Result<Option<Timestamp>, ObjectError> {
        let credentials = self.signing_credentials().await?;
        Ok(match (credentials.expiry(), credentials.session_token()) {
            (Some(at), _) => Some(chrono::DateTime::<chrono::Utc>::from(at)),
            // Temporary credentials that don't say when they expire: Lambda's role credentials,
            // from its environment. A role session lasts an hour unless the role says otherwise,
            // and Lambda says nothing more, so no URL they sign is promised longer.
            (None, Some(_)) => Some(vidgate_domain::time::now() + UNSTATED_SESSION_LIFE),
            (None, None) => None,
        })
    }

    async fn presign_part(&self, part: PartUpload<'_>, expires_in: Duration) -> Result<String, ObjectError> {
        let PartUpload { key, upload_id, part_number, content_length, checksum } = part;
        if content_length.is_some() || checksum.is_some() {
            // Signed by the hand presigner, which signs exactly the headers it is given (and
            // otherwise signs as the SDK does: see the test below).
            let query = format!("x-id=UploadPart&partNumber={part_number}&{}", upload_query(upload_id));
            let length = content_length.map(|l| l.to_string());
            let header = checksum.map(|(a, _)| a.header());
            let mut headers: Vec<(&str, &str)> = Vec::new();
            if let Some(length) = &length {
                headers.push(("content-length", length));
            }
            if let (Some(header), Some((_, value))) = (&header, checksum) {
                headers.push((header, value));
            }
            return self.presign_raw("PUT", key, &query, &headers, expires_in).await;
        }
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

    async fn presign_request(
        &self,
        key: &str,
        request: ClientRequest<'_>,
        expires_in: Duration,
    ) -> Result<String, ObjectError> {
        let (method, query) = match request {
            ClientRequest::PutObject => ("PUT", String::new()),
            ClientRequest::CreateMultipart => ("POST", "uploads=".to_owned()),
            ClientRequest::ListParts { upload_id } => ("GET", upload_query(upload_id)),
            ClientRequest::Complete { upload_id } => ("POST", upload_query(upload_id)),
            ClientRequest::Abort { upload_id } => ("DELETE", upload_query(upload_id)),
        };
        self.presign_raw(method, key, &query, &[], expires_in).await
    }

    async fn presign_post(
        &self,
        key: &str,
        content_type: &str,
        lengths: std::ops::RangeInclusive<u64>,
        expires_in: Duration,
    ) -> Result<PostForm, ObjectError> {
        self.presign_post_at(key, content_type, lengths, expires_in, std::time::SystemTime::now()).await
    }

    async fn put_new(&self, key: &str, content_type: &str, body: Vec<u8>) -> Result<(), ObjectError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .if_none_match("*")
            .body(body.into())
            .send()
            .await
            .map_err(object_error)?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        self.delete_versions(key, true).await.map(|_| ())
    }

    async fn delete_version(&self, key: &str, version: &str) -> Result<(), ObjectError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .version_id(version)
            .send()
            .await
            .map_err(object_error)?;
        Ok(())
    }

    fn bucket_url(&self) -> String {
        self.bucket_url.clone()
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: Option<u64>,
        expires_in: Duration,
    ) -> Result<String, ObjectError> {
        if let Some(length) = content_length {
            let length = length.to_string();
            let headers =
                [("content-length", length.as_str()), ("content-type", content_type), ("if-none-match", "*")];
            return self.presign_raw("PUT", key, "x-id=PutObject", &headers, expires_in).await;
        }
        let presigning = presigning(expires_in)?;
        let request = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .if_none_match("*")
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
                    checksum: part
                        .checksum_crc64_nvme
                        .or(part.checksum_crc32_c)
                        .or(part.checksum_crc32)
                        .or(part.checksum_sha256),
                    last_modified: part
                        .last_modified
                        .and_then(|t| chrono::DateTime::from_timestamp_millis(t.to_millis().ok()?)),
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
        full: Option<&Checksum>,
    ) -> Result<Assembled, ObjectError> {
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|p| {
                        let part = CompletedPart::builder().part_number(to_i32(p.part_number)).e_tag(&p.etag);
                        match (full.map(|f| f.algorithm), p.checksum.clone()) {
                            (Some(ChecksumAlgorithm::Crc64nvme), value) => {
                                part.set_checksum_crc64_nvme(value)
                            }
                            (Some(ChecksumAlgorithm::Crc32c), value) => part.set_checksum_crc32_c(value),
                            (Some(ChecksumAlgorithm::Crc32), value) => part.set_checksum_crc32(value),
                            (Some(ChecksumAlgorithm::Sha256), value) => part.set_checksum_sha256(value),
                            (None, _) => part,
                        }
                        .build()
                    })
                    .collect(),
            ))
            .build();
        let mut request = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .if_none_match("*")
            .multipart_upload(completed);
        if let Some(full) = full {
            let value = Some(full.value.clone());
            request = match full.algorithm {
                ChecksumAlgorithm::Crc64nvme => request.set_checksum_crc64_nvme(value),
                ChecksumAlgorithm::Crc32c => request.set_checksum_crc32_c(value),
                ChecksumAlgorithm::Crc32 => request.set_checksum_crc32(value),
                ChecksumAlgorithm::Sha256 => request.set_checksum_sha256(value),
            }
            .checksum_type(s3_type(full.kind));
        }
        let out = request.send().await.map_err(object_error)?;
        let checksum = checksum_of(
            out.checksum_crc64_nvme,
            out.checksum_crc32_c,
            out.checksum_crc32,
            out.checksum_sha256,
            out.checksum_type.as_ref(),
        );
        Ok(Assembled { etag: out.e_tag.unwrap_or_default(), checksum, version: out.version_id })
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
        self.abort_under(key, true).await
    }

    async fn clear_prefix(&self, prefix: &str) -> Result<(usize, usize), ObjectError> {
        let aborted = self.abort_under(prefix, false).await?;
        let deleted = self.delete_versions(prefix, false).await?;
        Ok((deleted, aborted))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectInfo {
                size: out.content_length.unwrap_or_default().max(0) as u64,
                etag: out.e_tag.unwrap_or_default(),
                checksum: checksum_of(
                    out.checksum_crc64_nvme,
                    out.checksum_crc32_c,
                    out.checksum_crc32,
                    out.checksum_sha256,
                    out.checksum_type.as_ref(),
                ),
                version: out.version_id,
            })),
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => Ok(None),
            Err(e) => Err(object_error(e)),
        }
    }

    async fn get_range(
        &self,
        key: &str,
        version: Option<&str>,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, ObjectError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version.map(str::to_owned))
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

    async fn presign_get(
        &self,
        key: &str,
        version: Option<&str>,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<String, ObjectError> {
        let presigning = presigning(expires_in)?;
        let request = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version.map(str::to_owned))
            .response_content_type(content_type)
            .presigned(presigning)
            .await
            .map_err(object_error)?;
        Ok(request.uri().to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use aws_sdk_s3::config::Credentials;
    use aws_sdk_s3::presigning::PresigningConfig;

    use super::*;

    async fn store(endpoint: &str) -> S3ObjectStore {
        let sdk = crate::sdk::loader()
            .region(aws_config::Region::new("eu-west-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                Some("token/+=".into()),
                None,
                "test",
            ))
            .load()
            .await;
        S3ObjectStore::new(&sdk, "bucket", true)
    }

    /// The hand-built presigner signs as the SDK's own: the same URL for the same request and time.
    #[tokio::test]
    async fn hand_presigned_urls_equal_the_sdks_for_the_same_request() {
        let s3 = store("http://127.0.0.1:9").await;
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let key = "videos/0123456789abcdef0123456789abcdef/0190f0e4-0000-7000-8000-000000000000.mp4";
        let config =
            PresigningConfig::builder().start_time(at).expires_in(Duration::from_secs(900)).build().unwrap();
        let sdk = s3
            .client
            .upload_part()
            .bucket("bucket")
            .key(key)
            .upload_id("up/1+x")
            .part_number(3)
            .presigned(config)
            .await
            .unwrap()
            .uri()
            .to_string();
        let ours = s3
            .presign_raw_at(
                "PUT",
                key,
                "x-id=UploadPart&partNumber=3&uploadId=up%2F1%2Bx",
                &[],
                Duration::from_secs(900),
                at,
            )
            .await
            .unwrap();
        let signature = |url: &str| url.split("X-Amz-Signature=").nth(1).unwrap().to_owned();
        assert_eq!(signature(&ours), signature(&sdk), "ours: {ours}\nsdk:  {sdk}");
        assert!(ours.starts_with("http://127.0.0.1:9/bucket/videos/"), "{ours}");
    }

    #[test]
    fn bucket_urls_follow_the_addressing_style() {
        assert_eq!(
            bucket_url(Some("http://127.0.0.1:4566/"), "b", "r", true, false),
            "http://127.0.0.1:4566/b"
        );
        assert_eq!(
            bucket_url(Some("https://minio.example"), "b", "r", false, false),
            "https://b.minio.example"
        );
        assert_eq!(bucket_url(None, "b", "eu-west-1", false, false), "https://b.s3.eu-west-1.amazonaws.com");
        assert_eq!(bucket_url(None, "b", "eu-west-1", false, true), "https://b.s3-accelerate.amazonaws.com");
    }
}
