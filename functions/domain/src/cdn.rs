//! CloudFront signed URLs: what create-playback hands a `<video>` tag when playback goes through
//! the CDN, and the pieces the local stack's CloudFront checks them with.
//!
//! As CloudFront's developer guide gives them ("Create a signed URL using a canned policy"): the
//! canned policy is the exact JSON `{"Statement":[{"Resource":"<url>","Condition":{"DateLessThan":
//! {"AWS:EpochTime":<expires>}}}]}` with no whitespace, signed with RSA (PKCS #1 v1.5) over
//! SHA-256 — `Hash-Algorithm=SHA256`, which CloudFront accepts beside the SHA-1 default — and the
//! signature travels in CloudFront's URL-safe base64 (`+` → `-`, `=` → `_`, `/` → `~`). The RSA
//! signer is `vidgate_uploads::cdn`'s: the domain links no crypto library.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The query parameters CloudFront reads a signed URL's grant from; the rest of the URL is the
/// resource.
pub const SIGNING_PARAMETERS: [&str; 5] = ["Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm"];

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
