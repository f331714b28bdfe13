//! vidgate-local: the whole API on 127.0.0.1 with no AWS account and no Docker.
//!
//! # Module map
//! - [`moto`]: runs moto's server (local S3, DynamoDB and STS) as a child process that dies with us.
//! - [`bootstrap`]: the `SdkConfig` for the local endpoint; creates the bucket (CORS exposing
//!   `ETag`) and the table.
//! - [`notifications`]: the bucket's `ObjectCreated` events, through an SQS queue in moto, to the
//!   `on-object-created` function (what S3 does in AWS).
//! - [`jwt`]: development tokens, and the check API Gateway's JWT authorizer would make.
//! - [`gateway`]: an HTTP server that plays API Gateway: matches vidgate's route table, runs the
//!   authorizer, turns each request into an API Gateway v2 event and runs the very handler the
//!   Lambda binary runs.
//!
//! `main.rs` wires these into `vidgate-local up` and `vidgate-local token`; the integration tests
//! in `tests/` use the same pieces on free ports.

pub mod bootstrap;
pub mod gateway;
pub mod jwt;
pub mod moto;
pub mod notifications;
