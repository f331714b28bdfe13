//! The local AWS stand-in: SDK configuration pointing at the local endpoint, and the bucket and
//! table vidgate expects to exist.

use aws_config::{Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

pub const REGION: &str = "us-east-1";

/// SDK configuration for a local endpoint: fixed region and the local keys (which the local S3
/// checks signatures against), the same timeouts and retries as in Lambda.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    vidgate::aws::loader()
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            crate::aws::ACCESS_KEY,
            crate::aws::SECRET_KEY,
            None,
            None,
            "vidgate-local",
        ))
        .load()
        .await
}

/// An S3 client for the local endpoint (path-style: the local S3 serves no per-bucket host names).
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build())
}

/// Creates the bucket (versioned, as template.yaml's: reads are pinned to the checked version;
/// with CORS that lets browsers PUT parts and read `ETag`) and the table. Safe to run against
/// resources that already exist.
pub async fn ensure_resources(sdk: &SdkConfig, bucket: &str, table: &str) -> Result<(), String> {
    let s3 = s3_client(sdk);
    match s3.create_bucket().bucket(bucket).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()) => {}
        Err(e) => {
            return Err(format!("creating bucket {bucket}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
        }
    }
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| format!("versioning {bucket}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    let rule = CorsRule::builder()
        .allowed_origins("*")
        .allowed_methods("GET")
        .allowed_methods("PUT")
        .allowed_methods("POST")
        .allowed_methods("HEAD")
        .allowed_headers("*")
        .expose_headers("ETag")
        .max_age_seconds(3000)
        .build()
        .map_err(|e| e.to_string())?;
    s3.put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(CorsConfiguration::builder().cors_rules(rule).build().map_err(|e| e.to_string())?)
        .send()
        .await
        .map_err(|e| format!("setting CORS on {bucket}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;

    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    vidgate::aws::dynamodb::create_table(&dynamodb, table)
        .await
        .map_err(|e| format!("creating table {table}: {e}"))
}
