//! Least-privilege session policies for temporary upload credentials.
//!
//! `sts:AssumeRole` with an inline session policy: the credentials can do at most what both the
//! uploader role and this policy allow, and this policy allows writing exactly one key (or, for
//! Companion's `/s3/sts`, the keys under one owner's prefix) — a single
//! `PutObject` or a multipart upload of it — and nothing else: no reads, no deletes, no listing.

use serde::Serialize;

/// The write actions an SDK's managed uploader needs for one object. `s3:PutObject` covers
/// PutObject, CreateMultipartUpload, UploadPart and CompleteMultipartUpload.
pub const UPLOAD_ACTIONS: [&str; 3] =
    ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"];

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: &'static str,
    pub effect: &'static str,
    pub action: Vec<&'static str>,
    pub resource: Vec<String>,
}

/// The AWS partition of a region: `aws`, `aws-cn` or `aws-us-gov`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The session policy for uploading `key` to `bucket`.
pub fn upload_policy(region: &str, bucket: &str, key: &str) -> PolicyDocument {
    PolicyDocument {
        version: "2012-10-17",
        statement: vec![Statement {
            sid: "UploadThisObjectOnly",
            effect: "Allow",
            action: UPLOAD_ACTIONS.to_vec(),
            resource: vec![format!("arn:{}:s3:::{bucket}/{key}", partition(region))],
        }],
    }
}

/// The session policy for uploading any key under `prefix` (`videos/<owner hash>/`) to
/// `bucket`: Uppy and other clients that cache credentials across files need one grant for all
/// of one owner's uploads, and still nothing outside that owner's prefix.
pub fn prefix_upload_policy(region: &str, bucket: &str, prefix: &str) -> PolicyDocument {
    PolicyDocument {
        version: "2012-10-17",
        statement: vec![Statement {
            sid: "UploadUnderThisPrefixOnly",
            effect: "Allow",
            action: UPLOAD_ACTIONS.to_vec(),
            resource: vec![format!("arn:{}:s3:::{bucket}/{prefix}*", partition(region))],
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_writing_exactly_one_key() {
        let policy = upload_policy("eu-west-1", "vidgate-videos", "videos/abc/01.mp4");
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(
            json,
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"UploadThisObjectOnly","Effect":"Allow","Action":["s3:PutObject","s3:AbortMultipartUpload","s3:ListMultipartUploadParts"],"Resource":["arn:aws:s3:::vidgate-videos/videos/abc/01.mp4"]}]}"#
        );
        assert!(!json.contains('*'), "no wildcard action or resource");
        assert!(!json.contains("GetObject") && !json.contains("Delete") && !json.contains("ListBucket"));
    }

    #[test]
    fn the_prefix_policy_allows_writing_only_under_the_prefix() {
        let policy = prefix_upload_policy("eu-west-1", "vidgate-videos", "videos/abc/");
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(
            json,
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"UploadUnderThisPrefixOnly","Effect":"Allow","Action":["s3:PutObject","s3:AbortMultipartUpload","s3:ListMultipartUploadParts"],"Resource":["arn:aws:s3:::vidgate-videos/videos/abc/*"]}]}"#
        );
        assert!(!json.contains("GetObject") && !json.contains("Delete") && !json.contains("ListBucket"));
    }

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(upload_policy("cn-north-1", "b", "k").statement[0].resource[0], "arn:aws-cn:s3:::b/k");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}
