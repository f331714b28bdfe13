//! HTTP concerns shared by every function: the route table, who the caller is, errors as JSON,
//! and reading requests / writing responses.

pub mod auth;
pub mod cursor;
pub mod error;
pub mod event;
pub mod representation;
pub mod request;
pub mod routes;
pub mod view;

pub use error::ApiError;
pub use routes::{HttpFunction, NoRoute, Operation, ROUTES, Route, Router};
pub use view::VideoView;
