//! Playback through the local CloudFront, on by default as deployed: create-playback's URL is a
//! CloudFront signed URL (checked by an independent implementation: Python's `cryptography` and
//! botocore's `CloudFrontSigner`), the local CDN refuses what CloudFront refuses with 403, and
//! serves RFC 9110 ranges from the local S3.

use std::path::PathBuf;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, ETAG, RANGE};
use serde_json::Value;
use vidgate::config::PrivateKeySource;
use vidgate_local::cdn::DEV_KEY_PAIR_ID;
use vidgate_tests::{Stack, bytes};

async fn playback(stack: &Stack, id: &str) -> String {
    let (status, reply) = stack.call("POST", &format!("/v1/videos/{id}/playback"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    reply["url"].as_str().unwrap().to_owned()
}

fn str_of<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_else(|| panic!("no {name} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playback_is_a_signed_cdn_url_and_the_cdn_serves_ranges_from_s3() {
    let stack = Stack::start().await;
    let source = bytes(300_000, 31);
    let n = source.len();
    let video = stack.upload("alice", "clip.mp4", &source).await;
    let url = playback(&stack, str_of(&video, "id")).await;
    let resource = format!("{}/cdn/{}", stack.api, str_of(&video, "key"));
    // Pinned to the checked version, answered as the record's type (both signed).
    let version = vidgate_tests::s(&stack.item(str_of(&video, "id")).await, "versionId");
    let pinned = format!("{resource}?versionId={version}&response-content-type=video%2Fmp4&Expires=");
    assert!(url.starts_with(&pinned), "{url}");
    assert!(url.ends_with(&format!("&Key-Pair-Id={DEV_KEY_PAIR_ID}&Hash-Algorithm=SHA256")), "{url}");

    // Safari's probe first; no cap on a range through the CDN.
    for (range, start, end) in [
        ("bytes=0-1", 0, 1),
        ("bytes=1000-", 1000, n - 1),
        ("bytes=-100", n - 100, n - 1),
        ("bytes=299990-400000", 299_990, n - 1),
    ] {
        let response = stack.http.get(&url).header(RANGE, range).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(response.headers()[CONTENT_RANGE], format!("bytes {start}-{end}/{n}").as_str());
        assert_eq!(response.headers()[CONTENT_LENGTH], (end - start + 1).to_string().as_str());
        assert_eq!(response.headers()["content-type"], "video/mp4");
        assert_eq!(response.headers()[ETAG], str_of(&video, "etag"));
        let body = response.bytes().await.unwrap();
        assert!(body[..] == source[start..=end], "{range}: bytes differ");
    }
    let whole = stack.http.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()[ACCEPT_RANGES], "bytes");
    assert_eq!(whole.headers()[CONTENT_LENGTH], n.to_string().as_str());
    assert!(whole.bytes().await.unwrap()[..] == source[..]);

    let response = stack.http.get(&url).header(RANGE, format!("bytes={n}-")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(response.headers()[CONTENT_RANGE], format!("bytes */{n}").as_str());
    let head = stack.http.head(&url).header(RANGE, "bytes=0-1").send().await.unwrap();
    assert_eq!(
        (head.status(), &head.headers()[CONTENT_LENGTH]),
        (StatusCode::PARTIAL_CONTENT, &"2".parse().unwrap())
    );
    assert!(head.bytes().await.unwrap().is_empty());
    let etag = str_of(&video, "etag");
    let cached = stack.http.get(&url).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    // A range for another version of the object: the whole of this one.
    let changed =
        stack.http.get(&url).header(RANGE, "bytes=0-1").header("if-range", "\"other\"").send().await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(changed.bytes().await.unwrap().len(), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_cdn_refuses_what_cloudfront_refuses() {
    let stack = Stack::start().await;
    let a = stack.upload("alice", "a.mp4", &bytes(5000, 32)).await;
    let b = stack.upload("alice", "b.mp4", &bytes(5000, 33)).await;
    let url = playback(&stack, str_of(&a, "id")).await;
    assert_eq!(stack.http.get(&url).send().await.unwrap().status(), StatusCode::OK);

    let (resource, grant) = url.split_once('?').unwrap();
    let param =
        |name: &str| grant.split('&').find_map(|p| p.strip_prefix(&format!("{name}="))).unwrap().to_owned();
    let (expires, signature) = (param("Expires"), param("Signature"));
    let flipped: String = signature
        .char_indices()
        .map(|(i, c)| if i == 10 { if c == 'A' { 'B' } else { 'A' } } else { c })
        .collect();
    let later = (expires.parse::<i64>().unwrap() + 3600).to_string();
    let signer = stack.app().cdn.clone().expect("the local stack signs for its CDN");
    let expired = signer.sign(resource, vidgate::domain::time::now() - chrono::Duration::seconds(1));
    let cases = [
        ("a tampered signature", url.replace(&signature, &flipped)),
        ("an extended expiry", url.replace(&format!("Expires={expires}"), &format!("Expires={later}"))),
        ("no key pair id", url.replace(&format!("&Key-Pair-Id={DEV_KEY_PAIR_ID}"), "")),
        ("a key outside the key group", url.replace(DEV_KEY_PAIR_ID, "K2JCJMDEHXQW5F")),
        ("another video's path", url.replace(str_of(&a, "key"), str_of(&b, "key"))),
        ("an expired URL", expired),
        ("the SHA-256 signature presented as SHA-1", url.replace("&Hash-Algorithm=SHA256", "")),
        ("an unknown hash algorithm", url.replace("Hash-Algorithm=SHA256", "Hash-Algorithm=MD5")),
        ("another query added", url.replace("&Expires", "&download=1&Expires")),
        ("another version", url.replace("versionId=", "versionId=0")),
        ("another type", url.replace("video%2Fmp4", "text%2Fhtml")),
        ("no grant at all", resource.to_owned()),
    ];
    for (what, bad) in cases {
        let response = stack.http.get(&bad).header(RANGE, "bytes=0-1").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}: {bad}");
        let body = response.text().await.unwrap();
        assert!(body.contains("<Error><Code>"), "{what}: {body}");
    }
    let post = stack.http.post(&url).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::FORBIDDEN);
    // The stream route still answers with its own token, for deployments without the CDN.
    let (status, _) = stack.call("GET", &format!("/v1/videos/{}/stream", str_of(&a, "id")), None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

fn python() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python"))
}

/// Verifies `URL` (ours) with the public key, then signs with botocore's `CloudFrontSigner`:
/// a canned policy (SHA-1, CloudFront's default), a custom policy with a wildcard resource and
/// this machine's address, and one for another network.
const INDEPENDENT: &str = r#"
import base64, datetime, json, os, urllib.parse
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

key = serialization.load_pem_private_key(os.environ["PEM"].encode(), password=None)
# The resource is the URL up to the signing parameters: the object, its checked version and type.
base, query = os.environ["URL"].split("&Expires=", 1)
params = dict(urllib.parse.parse_qsl("Expires=" + query))
assert list(params) == ["Expires", "Signature", "Key-Pair-Id", "Hash-Algorithm"], params
pinned = dict(urllib.parse.parse_qsl(base.split("?", 1)[1]))
assert list(pinned) == ["versionId", "response-content-type"] and pinned["response-content-type"] == "video/mp4", pinned
signature = base64.b64decode(params["Signature"].replace("-", "+").replace("_", "=").replace("~", "/"))
policy = '{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%s}}}]}' % (base, params["Expires"])
key.public_key().verify(signature, policy.encode(), padding.PKCS1v15(), hashes.SHA256())

signer = CloudFrontSigner(params["Key-Pair-Id"], lambda m: key.sign(m, padding.PKCS1v15(), hashes.SHA1()))
until = datetime.datetime.fromtimestamp(int(params["Expires"]), datetime.timezone.utc)
folder = base.split("?", 1)[0].rsplit("/", 1)[0] + "/*"
print(json.dumps({
    "verified": True,
    "canned": signer.generate_presigned_url(base, date_less_than=until),
    "custom": signer.generate_presigned_url(base, policy=signer.build_policy(folder, until, ip_address="127.0.0.1/32")),
    "elsewhere": signer.generate_presigned_url(base, policy=signer.build_policy(folder, until, ip_address="10.0.0.0/8")),
    "later": signer.generate_presigned_url(base, policy=signer.build_policy(base, until, date_greater_than=until)),
}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_implementation_verifies_our_urls_and_signs_urls_the_local_cdn_accepts() {
    let stack = Stack::start().await;
    let source = bytes(4000, 34);
    let video = stack.upload("alice", "a.mp4", &source).await;
    let url = playback(&stack, str_of(&video, "id")).await;
    let Some(PrivateKeySource::Pem(pem)) = stack.app().config.cdn.as_ref().map(|c| c.private_key.clone())
    else {
        panic!("the local stack's key is PEM");
    };
    let output = std::process::Command::new(python())
        .args(["-c", INDEPENDENT])
        .env("URL", &url)
        .env("PEM", pem)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (infra/local/setup installs it)", python().display()));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let signed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(signed["verified"], true);
    for (name, status) in [
        ("canned", StatusCode::OK),
        ("custom", StatusCode::OK),
        ("elsewhere", StatusCode::FORBIDDEN),
        ("later", StatusCode::FORBIDDEN),
    ] {
        let url = str_of(&signed, name);
        assert!(!url.contains("Hash-Algorithm"), "botocore signs with SHA-1: {url}");
        let response = stack.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), status, "{name}: {url}");
        if status == StatusCode::OK {
            assert!(response.bytes().await.unwrap()[..] == source[..], "{name}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployed_create_playback_reads_its_key_from_secrets_manager_once_and_fails_init_without_it() {
    use vidgate::aws::cdn::{SignerError, load_signer};
    let stack = Stack::start().await;
    let mut config = (*stack.app().config).clone();
    let cdn = config.cdn.as_mut().unwrap();
    let PrivateKeySource::Pem(pem) = cdn.private_key.clone() else { panic!("the local key is PEM") };
    let secrets = aws_sdk_secretsmanager::Client::new(stack.sdk());
    secrets.create_secret().name("vidgate/cdn-private-key").secret_string(&pem).send().await.unwrap();
    secrets.create_secret().name("vidgate/not-a-key").secret_string("hello").send().await.unwrap();

    cdn.private_key = PrivateKeySource::Secret("vidgate/cdn-private-key".into());
    let signer = load_signer(&config, stack.sdk()).await.unwrap().expect("a signer");
    // The same key as the stack's: a URL it signs plays through the local CDN.
    let video = stack.upload("alice", "a.mp4", &bytes(3000, 35)).await;
    let resource = format!("{}/cdn/{}", stack.api, str_of(&video, "key"));
    let url = signer.sign(&resource, vidgate::domain::time::now() + chrono::Duration::seconds(60));
    assert_eq!(stack.http.get(&url).send().await.unwrap().status(), StatusCode::OK);

    let cdn = config.cdn.as_mut().unwrap();
    cdn.private_key = PrivateKeySource::Secret("vidgate/no-such-secret".into());
    let err = load_signer(&config, stack.sdk()).await.unwrap_err();
    assert!(
        matches!(&err, SignerError::Secret { secret, .. } if secret == "vidgate/no-such-secret"),
        "{err}"
    );
    let cdn = config.cdn.as_mut().unwrap();
    cdn.private_key = PrivateKeySource::Secret("vidgate/not-a-key".into());
    let err = load_signer(&config, stack.sdk()).await.unwrap_err();
    assert!(matches!(err, SignerError::Key { .. }), "{err}");
    assert!(!err.to_string().contains("hello"), "the secret's value is never echoed: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployed_playback_key_is_read_from_secrets_manager_once_and_a_bad_one_fails_init() {
    use vidgate::aws::secrets::{SecretError, load_playback_secret};
    let stack = Stack::start().await;
    let secrets = aws_sdk_secretsmanager::Client::new(stack.sdk());
    let key = "k".repeat(64);
    secrets.create_secret().name("vidgate/playback").secret_string(&key).send().await.unwrap();
    secrets.create_secret().name("vidgate/short").secret_string("short-key-value").send().await.unwrap();
    let mut config = (*stack.app().config).clone();
    config.playback_secret = None;

    config.playback_secret_name = Some("vidgate/playback".into());
    let loaded = load_playback_secret(config.clone(), stack.sdk()).await.unwrap();
    assert_eq!(loaded.playback_secret.as_deref(), Some(key.as_str()));
    // Without a name, nothing is read (a local stack passes the key itself).
    config.playback_secret_name = None;
    assert_eq!(load_playback_secret(config.clone(), stack.sdk()).await.unwrap().playback_secret, None);

    config.playback_secret_name = Some("vidgate/no-such-secret".into());
    let err = load_playback_secret(config.clone(), stack.sdk()).await.unwrap_err();
    assert!(
        matches!(&err, SecretError::Unreadable { secret, .. } if secret == "vidgate/no-such-secret"),
        "{err}"
    );
    config.playback_secret_name = Some("vidgate/short".into());
    let err = load_playback_secret(config, stack.sdk()).await.unwrap_err();
    assert!(matches!(err, SecretError::Unusable { .. }), "{err}");
    assert!(!err.to_string().contains("short-key-value"), "the secret's value is never echoed: {err}");
}
