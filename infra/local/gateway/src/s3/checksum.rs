//! The checksums S3 verifies and stores: `Content-MD5` and `x-amz-checksum-<algorithm>` on a
//! body, composite and full-object checksums of a multipart upload. The hashing itself is
//! `s3s::crypto`'s (crc-fast, sha1/sha2, md-5); this module only decides which one a request asks
//! for and words the refusals as S3 does.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use s3s::S3Result;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Md5, Sha1, Sha256};
use s3s::dto::{self, ChecksumAlgorithm, ChecksumType};
use s3s::s3_error;

/// The checksum algorithms S3 offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 5] =
        [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme, Algorithm::Sha1, Algorithm::Sha256];

    pub fn parse(name: &str) -> S3Result<Self> {
        Self::ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(name)).ok_or_else(|| {
            s3_error!(InvalidRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
        })
    }

    pub fn from_dto(algorithm: Option<&ChecksumAlgorithm>) -> S3Result<Option<Self>> {
        algorithm.map(|a| Self::parse(a.as_str())).transpose()
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => ChecksumAlgorithm::CRC32,
            Algorithm::Crc32c => ChecksumAlgorithm::CRC32C,
            Algorithm::Crc64Nvme => ChecksumAlgorithm::CRC64NVME,
            Algorithm::Sha1 => ChecksumAlgorithm::SHA1,
            Algorithm::Sha256 => ChecksumAlgorithm::SHA256,
        }
    }

    /// The request header (and presigned query parameter) carrying this checksum.
    pub fn header(self) -> String {
        format!("x-amz-checksum-{}", self.name().to_ascii_lowercase())
    }

    fn digest_len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Crc64Nvme => 8,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }

    /// S3 offers full-object checksums of multipart uploads only for the CRCs, which combine.
    pub fn can_be_full_object(self) -> bool {
        matches!(self, Algorithm::Crc32 | Algorithm::Crc32c | Algorithm::Crc64Nvme)
    }

    pub fn to_dto(self) -> ChecksumAlgorithm {
        ChecksumAlgorithm::from(self.name().to_owned())
    }
}

/// A running hash of one algorithm.
pub enum Hasher {
    Crc32(Crc32),
    Crc32c(Crc32c),
    Crc64Nvme(Crc64Nvme),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Crc32 => Hasher::Crc32(Crc32::new()),
            Algorithm::Crc32c => Hasher::Crc32c(Crc32c::new()),
            Algorithm::Crc64Nvme => Hasher::Crc64Nvme(Crc64Nvme::new()),
            Algorithm::Sha1 => Hasher::Sha1(Sha1::new()),
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc32(h) => h.update(data),
            Hasher::Crc32c(h) => h.update(data),
            Hasher::Crc64Nvme(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
    }

    pub fn finalize(self) -> Vec<u8> {
        match self {
            Hasher::Crc32(h) => h.finalize().to_vec(),
            Hasher::Crc32c(h) => h.finalize().to_vec(),
            Hasher::Crc64Nvme(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().as_ref().to_vec(),
            Hasher::Sha256(h) => h.finalize().as_ref().to_vec(),
        }
    }
}

/// A checksum as S3 stores it with an object or a part: `value` is base64, with `-<parts>` for a
/// composite checksum of a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub algorithm: Algorithm,
    pub value: String,
    pub full_object: bool,
}

impl Stored {
    pub fn checksum_type(&self) -> ChecksumType {
        ChecksumType::from(
            if self.full_object { ChecksumType::FULL_OBJECT } else { ChecksumType::COMPOSITE }.to_owned(),
        )
    }

    /// The value in the one `checksum_<algorithm>` field S3's replies carry.
    pub fn fields(&self) -> Fields {
        let mut fields = Fields::default();
        *fields.slot(self.algorithm) = Some(self.value.clone());
        fields
    }
}

/// The five `checksum_<algorithm>` fields S3's inputs and outputs have.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub crc64nvme: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
}

impl Fields {
    fn slot(&mut self, algorithm: Algorithm) -> &mut Option<String> {
        match algorithm {
            Algorithm::Crc32 => &mut self.crc32,
            Algorithm::Crc32c => &mut self.crc32c,
            Algorithm::Crc64Nvme => &mut self.crc64nvme,
            Algorithm::Sha1 => &mut self.sha1,
            Algorithm::Sha256 => &mut self.sha256,
        }
    }

    /// The one checksum given, if any; two different algorithms at once S3 refuses.
    pub fn single(&self) -> S3Result<Option<(Algorithm, String)>> {
        let mut copy = self.clone();
        let given: Vec<(Algorithm, String)> =
            Algorithm::ALL.into_iter().filter_map(|a| copy.slot(a).take().map(|v| (a, v))).collect();
        match given.len() {
            0 => Ok(None),
            1 => Ok(given.into_iter().next()),
            _ => Err(s3_error!(
                InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            )),
        }
    }

    /// Fills fields the request left empty from the presigned URL's query (`x-amz-checksum-…=`),
    /// where a presigner puts a checksum it signed.
    pub fn or_from_query(mut self, uri: &http::Uri) -> Self {
        if let Some(query) = uri.query() {
            for (name, value) in form_urlencoded::parse(query.as_bytes()) {
                if let Some(algorithm) =
                    Algorithm::ALL.into_iter().find(|a| a.header().eq_ignore_ascii_case(&name))
                {
                    let slot = self.slot(algorithm);
                    if slot.is_none() {
                        *slot = Some(value.into_owned());
                    }
                }
            }
        }
        self
    }

    /// Fills fields the request left empty from aws-chunked trailers (how SDKs send a checksum
    /// they compute while streaming).
    pub fn or_from_trailers(mut self, trailers: Option<&http::HeaderMap>) -> Self {
        if let Some(trailers) = trailers {
            for algorithm in Algorithm::ALL {
                let slot = self.slot(algorithm);
                if slot.is_none() {
                    *slot = trailers.get(algorithm.header()).and_then(|v| v.to_str().ok()).map(str::to_owned);
                }
            }
        }
        self
    }

    pub fn into_dto(self) -> dto::Checksum {
        dto::Checksum {
            checksum_crc32: self.crc32,
            checksum_crc32c: self.crc32c,
            checksum_crc64nvme: self.crc64nvme,
            checksum_sha1: self.sha1,
            checksum_sha256: self.sha256,
            checksum_type: None,
        }
    }
}

/// Fields from any S3 shape that has the five checksum members.
#[macro_export]
macro_rules! checksum_fields {
    ($value:expr) => {
        $crate::s3::checksum::Fields {
            crc32: $value.checksum_crc32.clone(),
            crc32c: $value.checksum_crc32c.clone(),
            crc64nvme: $value.checksum_crc64nvme.clone(),
            sha1: $value.checksum_sha1.clone(),
            sha256: $value.checksum_sha256.clone(),
        }
    };
}

/// A header value that is no base64 digest of the algorithm's length is refused before the
/// body is read, as S3 does.
pub fn check_well_formed(algorithm: Algorithm, value: &str) -> S3Result<Vec<u8>> {
    match STANDARD.decode(value) {
        Ok(bytes) if bytes.len() == algorithm.digest_len() => Ok(bytes),
        _ => Err(s3_error!(InvalidRequest, "Value for {} header is invalid.", algorithm.header())),
    }
}

pub fn check_content_md5(value: &str) -> S3Result<[u8; 16]> {
    STANDARD
        .decode(value)
        .ok()
        .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
        .ok_or_else(|| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))
}

/// What a body is hashed with while it is written: always MD5 (the ETag), and the checksum the
/// request names, if it names one.
pub struct BodyHasher {
    md5: Md5,
    checksum: Option<(Algorithm, Hasher)>,
}

impl BodyHasher {
    pub fn new(algorithm: Option<Algorithm>) -> Self {
        Self { md5: Md5::new(), checksum: algorithm.map(|a| (a, Hasher::new(a))) }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        if let Some((_, hasher)) = &mut self.checksum {
            hasher.update(data);
        }
    }

    /// (MD5 digest, the checksum in base64).
    pub fn finalize(self) -> ([u8; 16], Option<Stored>) {
        let stored = self.checksum.map(|(algorithm, hasher)| Stored {
            algorithm,
            value: STANDARD.encode(hasher.finalize()),
            full_object: true,
        });
        (self.md5.finalize(), stored)
    }
}

/// Compares what arrived with what the request declared, in S3's words.
pub fn verify_body(
    md5: &[u8; 16],
    declared_md5: Option<[u8; 16]>,
    computed: Option<&Stored>,
    declared: Option<&str>,
) -> S3Result<()> {
    if declared_md5.is_some_and(|d| &d != md5) {
        return Err(s3_error!(BadDigest, "The Content-MD5 you specified did not match what we received."));
    }
    if let (Some(declared), Some(computed)) = (declared, computed)
        && declared != computed.value
    {
        return Err(s3_error!(
            BadDigest,
            "The {} you specified did not match the calculated checksum.",
            computed.algorithm.name()
        ));
    }
    Ok(())
}

/// The composite checksum of a multipart upload: the checksum of the parts' binary checksums,
/// `-<parts>` appended.
/// The full-object CRC of parts with these (base64) CRCs and sizes, combined without their bytes
/// (`crc-fast`'s CRC combination); `None` for SHA algorithms or an unreadable value.
pub fn combine(algorithm: Algorithm, parts: &[(&str, u64)]) -> Option<String> {
    use base64::Engine as _;
    let (crc, width) = match algorithm {
        Algorithm::Crc64Nvme => (crc_fast::CrcAlgorithm::Crc64Nvme, 8),
        Algorithm::Crc32 => (crc_fast::CrcAlgorithm::Crc32IsoHdlc, 4),
        Algorithm::Crc32c => (crc_fast::CrcAlgorithm::Crc32Iscsi, 4),
        _ => return None,
    };
    let mut whole: Option<u64> = None;
    for (value, size) in parts {
        let bytes = base64::engine::general_purpose::STANDARD.decode(value).ok()?;
        let part = match width {
            8 => u64::from_be_bytes(bytes.try_into().ok()?),
            _ => u64::from(u32::from_be_bytes(bytes.try_into().ok()?)),
        };
        whole = Some(whole.map_or(part, |acc| crc_fast::checksum_combine(crc, acc, part, *size)));
    }
    let whole = whole?;
    Some(base64(&if width == 8 {
        whole.to_be_bytes().to_vec()
    } else {
        (whole as u32).to_be_bytes().to_vec()
    }))
}

pub fn composite(algorithm: Algorithm, parts: &[&str]) -> String {
    let mut hasher = Hasher::new(algorithm);
    for part in parts {
        hasher.update(&STANDARD.decode(part).unwrap_or_default());
    }
    format!("{}-{}", STANDARD.encode(hasher.finalize()), parts.len())
}

pub fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_object_crc_combined_from_the_parts_is_the_crc_of_their_bytes() {
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (a, b, c) = (&bytes[..100_000], &bytes[100_000..250_000], &bytes[250_000..]);
        for algorithm in [Algorithm::Crc64Nvme, Algorithm::Crc32, Algorithm::Crc32c] {
            let sum = |part: &[u8]| {
                let mut h = Hasher::new(algorithm);
                h.update(part);
                base64(&h.finalize())
            };
            let (sa, sb, sc) = (sum(a), sum(b), sum(c));
            let parts =
                [(sa.as_str(), a.len() as u64), (sb.as_str(), b.len() as u64), (sc.as_str(), c.len() as u64)];
            assert_eq!(combine(algorithm, &parts), Some(sum(&bytes)), "{}", algorithm.name());
        }
        assert_eq!(combine(Algorithm::Sha256, &[("x", 1)]), None);
    }

    #[test]
    fn crc_and_sha_values_are_the_ones_aws_documents() {
        // "Hello, World!": CRC32 0xEC4AC3D0 and SHA-256 dffd6021…, base64 as S3 sends them.
        let mut h = Hasher::new(Algorithm::Crc32);
        h.update(b"Hello, World!");
        assert_eq!(base64(&h.finalize()), "7ErD0A==");
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(b"Hello, World!");
        assert_eq!(base64(&h.finalize()), "3/1gIbsr1bCvZ2KQgJ7DpTGR3YHH9wpLKGiKNiGCmG8=");
    }

    #[test]
    fn malformed_and_mismatching_checksums_are_refused_as_s3_words_them() {
        let err = check_well_formed(Algorithm::Sha256, "AAAA").unwrap_err();
        assert_eq!(err.code().as_str(), "InvalidRequest");
        assert_eq!(err.message(), Some("Value for x-amz-checksum-sha256 header is invalid."));
        let mut hasher = BodyHasher::new(Some(Algorithm::Sha256));
        hasher.update(b"abc");
        let (md5, sum) = hasher.finalize();
        let sum = sum.unwrap();
        let wrong = base64(&[0; 32]);
        let err = verify_body(&md5, None, Some(&sum), Some(&wrong)).unwrap_err();
        assert_eq!(err.code().as_str(), "BadDigest");
        assert!(verify_body(&md5, Some(md5), Some(&sum), Some(&sum.value.clone())).is_ok());
        assert_eq!(
            verify_body(&md5, Some([0; 16]), Some(&sum), None).unwrap_err().code().as_str(),
            "BadDigest"
        );
    }

    #[test]
    fn composite_checksums_hash_the_part_checksums_and_count_them() {
        let a = base64(&[1, 2, 3, 4]);
        let b = base64(&[5, 6, 7, 8]);
        let mut h = Hasher::new(Algorithm::Crc32);
        h.update(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(composite(Algorithm::Crc32, &[&a, &b]), format!("{}-2", base64(&h.finalize())));
    }

    #[test]
    fn a_presigned_urls_checksum_is_read_from_its_query() {
        let uri: http::Uri =
            "/b/k?partNumber=1&x-amz-checksum-sha256=abc%3D&X-Amz-Signature=s".parse().unwrap();
        let fields = Fields::default().or_from_query(&uri);
        assert_eq!(fields.single().unwrap(), Some((Algorithm::Sha256, "abc=".to_owned())));
    }
}
