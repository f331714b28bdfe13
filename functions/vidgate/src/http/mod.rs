//! HTTP concerns shared by every function: the route table, who the caller is, errors as JSON,
//! and reading requests / writing responses.

pub mod auth;
pub mod cursor;
pub mod error;
/// API Gateway events built from plain HTTP requests: for the local gateway and the handler
/// tests, never in a function's binary.
#[cfg(any(test, feature = "local-gateway"))]
pub mod event;
pub mod representation;
pub mod request;
pub mod routes;

pub use error::ApiError;
pub use routes::{HttpFunction, NoRoute, Operation, ROUTES, Route, Router};
