//! Development tokens, checked the way API Gateway's JWT authorizer checks real ones: signature,
//! issuer, audience, `exp`, `nbf` and `iat` (neither may lie in the future). Only the algorithm differs (HS256 with a shared secret instead of
//! RS256 with the issuer's published keys), which keeps local use free of any identity provider.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde_json::{Map, Value, json};

pub const ISSUER: &str = "vidgate-local";
pub const AUDIENCE: &str = "vidgate";
/// The documented default of `VIDGATE_DEV_JWT_SECRET`. Local use only.
pub const DEFAULT_SECRET: &str = "vidgate-local-dev-secret";

#[derive(Clone)]
pub struct DevJwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl DevJwt {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// A token for `sub`, valid for `ttl_secs`.
    pub fn issue(&self, sub: &str, ttl_secs: u64) -> String {
        self.issue_scoped(sub, ttl_secs, None)
    }

    /// A token for `sub` with OAuth `scope` (space-separated), as an identity provider's
    /// client-credentials grant issues an app backend's.
    pub fn issue_scoped(&self, sub: &str, ttl_secs: u64, scope: Option<&str>) -> String {
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "sub": sub,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2),
        });
        if let Some(scope) = scope {
            claims["scope"] = json!(scope);
        }
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).expect("HS256 encoding can't fail")
    }

    /// The claims of a valid `Authorization: Bearer …` value; `None` for anything else.
    pub fn verify(&self, authorization: Option<&str>) -> Option<Map<String, Value>> {
        let token = authorization?.strip_prefix("Bearer ")?.trim();
        let data = decode::<Map<String, Value>>(token, &self.decoding, &self.validation).ok()?;
        let sub_ok = data.claims.get("sub").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
        // A token issued in the future is refused, as API Gateway does; `iat` must be a number.
        let iat_ok = match data.claims.get("iat") {
            None => true,
            Some(iat) => iat.as_i64().is_some_and(|iat| iat <= chrono::Utc::now().timestamp()),
        };
        (sub_ok && iat_ok).then_some(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_carry_the_sub() {
        let jwt = DevJwt::new("s3cret");
        let token = jwt.issue("alice", 60);
        let claims = jwt.verify(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(claims["sub"], "alice");
    }

    #[test]
    fn wrong_secret_scheme_issuer_or_expired_tokens_are_refused() {
        let jwt = DevJwt::new("s3cret");
        let token = jwt.issue("alice", 60);
        assert!(DevJwt::new("other").verify(Some(&format!("Bearer {token}"))).is_none());
        assert!(jwt.verify(Some(&token)).is_none(), "no Bearer scheme");
        assert!(jwt.verify(None).is_none());
        assert!(jwt.verify(Some("Bearer not.a.jwt")).is_none());

        let now = chrono::Utc::now().timestamp();
        let forge = |claims: Value| {
            encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(b"s3cret")).unwrap()
        };
        let expired = forge(json!({"sub": "a", "iss": ISSUER, "aud": AUDIENCE, "exp": now - 60}));
        let wrong_iss = forge(json!({"sub": "a", "iss": "evil", "aud": AUDIENCE, "exp": now + 60}));
        let wrong_aud = forge(json!({"sub": "a", "iss": ISSUER, "aud": "other", "exp": now + 60}));
        let no_sub = forge(json!({"iss": ISSUER, "aud": AUDIENCE, "exp": now + 60}));
        // Not valid yet, or issued in the future: API Gateway refuses both.
        let early =
            forge(json!({"sub": "a", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600, "nbf": now + 300}));
        let future =
            forge(json!({"sub": "a", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600, "iat": now + 300}));
        let valid_nbf =
            forge(json!({"sub": "a", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600, "nbf": now - 1}));
        assert!(jwt.verify(Some(&format!("Bearer {valid_nbf}"))).is_some());
        for token in [expired, wrong_iss, wrong_aud, no_sub, early, future] {
            assert!(jwt.verify(Some(&format!("Bearer {token}"))).is_none());
        }
    }
}
