//! vidgate-local: the whole API on 127.0.0.1 with no AWS account and no Docker.
//!
//! # Module map
//! - [`aws`]: the one local AWS endpoint: requests signed for S3 (or unsigned) go to [`s3`], the
//!   rest to moto; it learns the temporary credentials moto's STS issues as they pass.
//! - [`s3`]: a local S3 that refuses what S3 refuses (SigV4 and expiry by `s3s`, checksums,
//!   multipart rules, atomic complete/abort, CORS), sending `ObjectCreated` to SQS.
//! - [`policy`]: the part of IAM policy evaluation session policies need (Allow/Deny, wildcards).
//! - [`moto`]: runs moto's server (DynamoDB and its streams, STS, SQS, EventBridge) as a child process that dies with us.
//! - [`bootstrap`]: the `SdkConfig` for the local endpoint; creates the bucket (CORS exposing
//!   `ETag`) and the table.
//! - [`notifications`]: the bucket's `ObjectCreated` events, through an SQS queue (moto's), to the
//!   `on-object-created` function (what S3 does in AWS).
//! - [`lifecycle`]: lifecycle events along the template's path: the table's stream → the
//!   `publish-events` function → an EventBridge bus (moto's) → the webhook in
//!   `VIDGATE_EVENTS_WEBHOOK`, with an API destination's retries and dead-letter queue.
//! - [`images`]: posters and storyboards along the template's path: `Video Uploaded` on the bus →
//!   a queue → the `make-images` function, with Debian's ffmpeg.
//! - [`schedule`]: the template's schedule: the auto-complete pass and the expiry sweep.
//! - [`cdn`]: a local CloudFront under `/cdn` on the API's port: signed URLs checked as
//!   CloudFront checks them, then ranges from the local S3.
//! - [`config`]: the local stack's defaults (bucket, table, secrets, role, bus), one list.
//! - [`jwt`]: development tokens, and the check API Gateway's JWT authorizer would make.
//! - [`gateway`]: an HTTP server that plays API Gateway: matches vidgate's route table, runs the
//!   authorizer, turns each request into an API Gateway v2 event and runs the very handler the
//!   Lambda binary runs.
//! - [`throttle`]: API Gateway's per-route token buckets (429 before the authorizer).
//!
//! `main.rs` wires these into `vidgate-local up` and `vidgate-local token`; the integration tests
//! in `tests/` use the same pieces on free ports.

pub mod aws;
pub mod bootstrap;
pub mod cdn;
pub mod config;
pub mod gateway;
pub mod images;
pub mod jwt;
pub mod lifecycle;
pub mod moto;
pub mod notifications;
pub mod policy;
pub mod s3;
pub mod schedule;
pub mod throttle;
