//! Who the caller is.
//!
//! Handlers trust only what API Gateway's JWT authorizer put in the request context: the token
//! was verified before the function ran, and the `sub` claim names the owner. The local gateway
//! puts claims in the same place after verifying its own development tokens.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use super::ApiError;
use crate::domain::Owner;

pub fn owner(req: &Request) -> Result<Owner, ApiError> {
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
        return Err(ApiError::Unauthorized);
    };
    ctx.authorizer
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .and_then(|jwt| jwt.claims.get("sub"))
        .map(|sub| sub.trim())
        .filter(|sub| !sub.is_empty())
        .map(Owner::new)
        .ok_or(ApiError::Unauthorized)
}

/// The scopes of the caller's token, as API Gateway's JWT authorizer passes them (`jwt.scopes`,
/// from the token's `scope` or `scp` claim); the `scope` claim when a gateway passed none.
pub fn scopes(req: &Request) -> Vec<String> {
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else { return Vec::new() };
    let Some(jwt) = ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()) else { return Vec::new() };
    match &jwt.scopes {
        Some(scopes) if !scopes.is_empty() => scopes.clone(),
        _ => jwt
            .claims
            .get("scope")
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
    }
}
