//! CloudFront signed URLs: what create-playback hands a `<video>` tag when playback goes through
//! the CDN, and the pieces the local stack's CloudFront checks them with.
//!
//! As CloudFront's developer guide gives them ("Create a signed URL using a canned policy"): the
//! canned policy is the exact JSON `{"Statement":[{"Resource":"<url>","Condition":{"DateLessThan":
//! {"AWS:EpochTime":<expires>}}}]}` with no whitespace, signed with RSA (PKCS #1 v1.5) over
//! SHA-256 — `Hash-Algorithm=SHA256`, which CloudFront accepts beside the SHA-1 default — and the
//! signature travels in CloudFront's URL-safe base64 (`+` → `-`, `=` → `_`, `/` → `~`). RSA is
//! aws-lc-rs's, the crypto library the SDK's TLS already links, so no second RSA implementation
//! ships (RustCrypto's `rsa` 0.9 carries the unfixed Marvin timing advisory, RUSTSEC-2023-0071).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};

use super::time::Timestamp;

/// The query parameters CloudFront reads a signed URL's grant from; the rest of the URL is the
/// resource.
pub const SIGNING_PARAMETERS: [&str; 5] = ["Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm"];

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM private key (PKCS #8 `PRIVATE KEY` or PKCS #1 `RSA PRIVATE KEY`): {0}")]
    Pem(String),
    #[error("not an RSA key CloudFront takes (2048 bits or more): {0}")]
    Rsa(String),
}

/// The private half of a CloudFront public key, and that key's id: signs playback URLs.
pub struct UrlSigner {
    key_pair_id: String,
    key: RsaKeyPair,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("UrlSigner").field("key_pair_id", &self.key_pair_id).finish_non_exhaustive()
    }
}

impl UrlSigner {
    /// From a PEM private key, as `openssl genrsa` (PKCS #1 or #8) writes it.
    pub fn from_pem(key_pair_id: &str, pem: &str) -> Result<Self, KeyError> {
        let der =
            PrivateKeyDer::from_pem_slice(pem.trim().as_bytes()).map_err(|e| KeyError::Pem(e.to_string()))?;
        let key = match &der {
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            _ => {
                return Err(KeyError::Rsa(
                    "an elliptic-curve key; CloudFront key groups hold RSA keys".into(),
                ));
            }
        }
        .map_err(|e| KeyError::Rsa(e.to_string()))?;
        Ok(Self { key_pair_id: key_pair_id.to_owned(), key })
    }

    /// The public half as SubjectPublicKeyInfo DER, what the key group holds.
    pub fn public_key_der(&self) -> Vec<u8> {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::KeyPair;
        self.key.public_key().as_der().expect("SubjectPublicKeyInfo of a parsed key").as_ref().to_vec()
    }

    pub fn key_pair_id(&self) -> &str {
        &self.key_pair_id
    }

    /// `resource` (a URL without the signing parameters) signed with a canned policy until
    /// `expires_at`.
    pub fn sign(&self, resource: &str, expires_at: Timestamp) -> String {
        let expires = expires_at.timestamp();
        let policy = canned_policy(resource, expires);
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), policy.as_bytes(), &mut signature)
            .expect("PKCS #1 v1.5 signing with a valid key and a buffer of the modulus length");
        let separator = if resource.contains('?') { '&' } else { '?' };
        format!(
            "{resource}{separator}Expires={expires}&Signature={}&Key-Pair-Id={}&Hash-Algorithm=SHA256",
            encode(&signature),
            self.key_pair_id
        )
    }
}

/// The CDN URL of an object: the base URL and the key, each segment percent-encoded as S3 keys
/// are in paths (`/` kept).
pub fn object_url(base: &str, key: &str) -> String {
    let segments: Vec<String> =
        key.split('/').map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()).collect();
    format!("{}/{}", base.trim_end_matches('/'), segments.join("/"))
}

/// The URL of one checked video on the CDN: its object, pinned to the checked `version` when the
/// bucket keeps versions, and answered with `content_type` whatever type the object was stored
/// with. The distribution forwards exactly these two query strings to S3 (and keys its cache on
/// them); the signature covers them, so a viewer can change neither.
pub fn video_url(base: &str, key: &str, version: Option<&str>, content_type: &str) -> String {
    let encode = |v: &str| percent_encoding::utf8_percent_encode(v, SEGMENT).to_string();
    let mut url = object_url(base, key);
    url.push('?');
    if let Some(version) = version {
        url.push_str(&format!("versionId={}&", encode(version)));
    }
    url.push_str(&format!("response-content-type={}", encode(content_type)));
    url
}

/// Everything but RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The canned policy of `resource` until `expires` (Unix seconds), byte for byte as CloudFront
/// rebuilds it to check the signature. The URL goes in as it is: CloudFront's documented policy
/// has no JSON escaping, and URLs of ours never hold `"` or `\`.
pub fn canned_policy(resource: &str, expires: i64) -> String {
    format!(
        r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    )
}

/// CloudFront's URL-safe base64.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes).replace('+', "-").replace('=', "_").replace('/', "~")
}

/// The inverse of [`encode`]; `None` for anything else (standard base64's `+`, `/`, `=` included).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    if text.contains(['+', '/', '=']) {
        return None;
    }
    STANDARD.decode(text.replace('-', "+").replace('_', "=").replace('~', "/")).ok()
}

/// A new 2048-bit key pair for a development stack: the private key as PKCS #8 PEM and the public
/// key as `PUBLIC KEY` PEM (SubjectPublicKeyInfo), the form CloudFront's `PublicKey` resource takes.
pub fn generate_pem_pair() -> (String, String) {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair;
    let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key generation");
    let private = pair.as_der().expect("PKCS #8 encoding of a generated key");
    let public = pair.public_key().as_der().expect("SubjectPublicKeyInfo of a generated key");
    (pem("PRIVATE KEY", private.as_ref()), pem("PUBLIC KEY", public.as_ref()))
}

/// The SubjectPublicKeyInfo DER of a `PUBLIC KEY` PEM.
pub fn public_key_der(pem: &str) -> Option<Vec<u8>> {
    SubjectPublicKeyInfoDer::from_pem_slice(pem.trim().as_bytes()).ok().map(|der| der.to_vec())
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).map(|line| std::str::from_utf8(line).expect("base64 is ASCII")).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    use super::*;
    use crate::domain::time;

    #[test]
    fn the_canned_policy_is_cloudfronts_documented_json() {
        // The developer guide's example, character for character.
        assert_eq!(
            canned_policy(
                "https://d111111abcdef8.cloudfront.net/horizon.jpg?size=large&license=yes",
                1357034400
            ),
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/horizon.jpg?size=large&license=yes","Condition":{"DateLessThan":{"AWS:EpochTime":1357034400}}}]}"#
        );
    }

    #[test]
    fn object_urls_encode_each_segment_of_the_key() {
        assert_eq!(
            object_url("https://cdn.example.com/", "videos/ab/x.mp4"),
            "https://cdn.example.com/videos/ab/x.mp4"
        );
        assert_eq!(
            object_url("http://127.0.0.1:3000/cdn", "videos/a b/é?.mp4"),
            "http://127.0.0.1:3000/cdn/videos/a%20b/%C3%A9%3F.mp4"
        );
    }

    #[test]
    fn cloudfront_base64_swaps_the_three_unsafe_characters_and_round_trips() {
        // 0xfb 0xff → "+/8=" in standard base64.
        assert_eq!(encode(&[0xfb, 0xff]), "-~8_");
        assert_eq!(decode("-~8_"), Some(vec![0xfb, 0xff]));
        assert_eq!(decode("+/8="), None);
        assert_eq!(decode("not base64!"), None);
    }

    #[test]
    fn a_signed_url_carries_a_sha256_signature_of_the_canned_policy() {
        let (private, public) = generate_pem_pair();
        let signer = UrlSigner::from_pem("K2JCJMDEHXQW5F", &private).unwrap();
        assert!(!format!("{signer:?}").contains("PRIVATE"));
        let expires_at = time::now() + chrono::Duration::seconds(300);
        let resource = "https://d111111abcdef8.cloudfront.net/videos/ab/clip.mp4";
        let url = signer.sign(resource, expires_at);
        let query = url.strip_prefix(&format!("{resource}?")).unwrap();
        let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["Expires", "Signature", "Key-Pair-Id", "Hash-Algorithm"]);
        assert_eq!(params[0].1, expires_at.timestamp().to_string());
        assert_eq!(params[2].1, "K2JCJMDEHXQW5F");
        assert_eq!(params[3].1, "SHA256");
        let signature = decode(&params[1].1).unwrap();
        let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key_der(&public).unwrap());
        let policy = canned_policy(resource, expires_at.timestamp());
        assert!(key.verify(policy.as_bytes(), &signature).is_ok());
        assert!(
            key.verify(canned_policy(resource, expires_at.timestamp() + 1).as_bytes(), &signature).is_err()
        );
        // A resource with a query keeps it, and the grant follows with `&`.
        assert!(signer.sign(&format!("{resource}?a=1"), expires_at).contains("clip.mp4?a=1&Expires="));
    }

    #[test]
    fn keys_that_are_not_rsa_private_keys_are_refused_with_the_reason() {
        let (_, public) = generate_pem_pair();
        assert!(matches!(UrlSigner::from_pem("K", &public), Err(KeyError::Pem(_))));
        assert!(matches!(UrlSigner::from_pem("K", "garbage"), Err(KeyError::Pem(_))));
        let ec = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBYQ\n-----END EC PRIVATE KEY-----\n";
        assert!(UrlSigner::from_pem("K", ec).is_err());
    }
}
