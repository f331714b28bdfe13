//! CloudFront's URL signer: the RSA key create-playback signs playback URLs with (the URL and
//! policy rules are `vidgate_domain::cdn`'s). RSA is aws-lc-rs's, the crypto library the SDK's
//! TLS already links, so no second RSA implementation ships (RustCrypto's `rsa` 0.9 carries the
//! unfixed Marvin timing advisory, RUSTSEC-2023-0071).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};

use vidgate_domain::cdn::{canned_policy, encode};
use vidgate_domain::time::Timestamp;

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
    use vidgate_domain::cdn::decode;
    use vidgate_domain::time;

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
