//! Temporary credentials for uploading with an AWS SDK: one key, or an owner's whole prefix.

use super::UploadError;
use crate::app::Credentials;
use crate::credentials::TempCredentials;
use vidgate_domain::credentials::{PolicyDocument, prefix_upload_policy, upload_policy};
use vidgate_domain::{Owner, Video, keys};

/// What a client needs to upload with an AWS SDK.
pub struct Grant {
    pub credentials: TempCredentials,
    pub bucket: String,
    pub region: String,
}

/// Credentials that can write exactly `video.key` (see `domain::credentials`).
pub async fn grant(app: &impl Credentials, video: &Video) -> Result<Grant, UploadError> {
    let policy = upload_policy(app.credentials().region(), &app.config().bucket, &video.key);
    issue(app, &format!("vidgate-{}", video.id), &policy).await
}

/// Credentials that can write any key under `owner`'s prefix, and nothing else. The prefix is
/// remembered first, so every object they write can be attributed to its owner.
pub async fn grant_prefix(app: &impl Credentials, owner: &Owner) -> Result<Grant, UploadError> {
    let prefix = keys::owner_prefix(owner);
    app.videos().remember_prefix(&prefix, owner).await?;
    let policy = prefix_upload_policy(app.credentials().region(), &app.config().bucket, &prefix);
    // The session name shows in CloudTrail; the hash part of the prefix names the owner there.
    let hash = prefix.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    issue(app, &format!("vidgate-prefix-{hash}"), &policy).await
}

async fn issue(app: &impl Credentials, session: &str, policy: &PolicyDocument) -> Result<Grant, UploadError> {
    let policy = serde_json::to_string(policy).expect("policies serialize");
    let credentials = app.credentials().issue(session, &policy, app.config().credentials_ttl).await?;
    Ok(Grant {
        credentials,
        bucket: app.config().bucket.clone(),
        region: app.credentials().region().to_owned(),
    })
}
