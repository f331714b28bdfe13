//! Checksums S3 verifies for us: the algorithms an upload may declare, and a stored object's
//! checksum as the owner sees it.
//!
//! vidgate computes none itself. A client sends each part's checksum; the part URL signs it, so
//! S3 refuses a part whose bytes differ; the completion names the whole object's checksum, and S3
//! refuses to assemble an object that does not match it. What S3 then reports is recorded.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::Invalid;

/// An algorithm an upload may declare. CRC64NVME is S3's own default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumAlgorithm {
    Crc64nvme,
    Crc32c,
    Crc32,
    Sha256,
}

/// How the checksum of a multipart object covers it: the whole object's bytes, or (SHA-256) a
/// checksum of the parts' checksums, suffixed `-<parts>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChecksumType {
    FullObject,
    Composite,
}

/// A stored object's checksum: `{algorithm, type, value}` (value base64, as S3 writes it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    #[serde(rename = "type")]
    pub kind: ChecksumType,
    pub value: String,
}

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 4] = [
        ChecksumAlgorithm::Crc64nvme,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Sha256,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc64nvme => "crc64nvme",
            ChecksumAlgorithm::Crc32c => "crc32c",
            ChecksumAlgorithm::Crc32 => "crc32",
            ChecksumAlgorithm::Sha256 => "sha256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    /// The header a request carries its checksum in: `x-amz-checksum-crc64nvme`.
    pub fn header(self) -> String {
        format!("x-amz-checksum-{}", self.as_str())
    }

    /// How a multipart object's checksum covers it: the CRCs can be combined into the whole
    /// object's; SHA-256 can't.
    pub fn multipart_type(self) -> ChecksumType {
        match self {
            ChecksumAlgorithm::Sha256 => ChecksumType::Composite,
            _ => ChecksumType::FullObject,
        }
    }

    fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc64nvme => 8,
            ChecksumAlgorithm::Crc32c | ChecksumAlgorithm::Crc32 => 4,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }

    /// `value` if it is the base64 of a digest of this algorithm, else why not (`field` names it).
    pub fn check(self, field: &str, value: &str) -> Result<String, Invalid> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|_| Invalid::new("invalid_checksum", format!("{field} is not base64: {value:?}")))?;
        if decoded.len() != self.digest_len() {
            return Err(Invalid::new(
                "invalid_checksum",
                format!(
                    "{field} is {} bytes; a {} checksum is {} bytes, base64-encoded",
                    decoded.len(),
                    self.as_str(),
                    self.digest_len()
                ),
            ));
        }
        Ok(value.trim().to_owned())
    }
}

/// A running checksum of one algorithm, fed in pieces.
pub enum Hasher {
    /// The digest and its width in bytes (4 or 8).
    Crc(crc_fast::Digest, usize),
    Sha256(sha2::Sha256),
}

impl Hasher {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        use crc_fast::CrcAlgorithm as C;
        match algorithm {
            ChecksumAlgorithm::Crc64nvme => Hasher::Crc(crc_fast::Digest::new(C::Crc64Nvme), 8),
            ChecksumAlgorithm::Crc32c => Hasher::Crc(crc_fast::Digest::new(C::Crc32Iscsi), 4),
            ChecksumAlgorithm::Crc32 => Hasher::Crc(crc_fast::Digest::new(C::Crc32IsoHdlc), 4),
            ChecksumAlgorithm::Sha256 => Hasher::Sha256(<sha2::Sha256 as sha2::Digest>::new()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Crc(d, _) => d.update(bytes),
            Hasher::Sha256(d) => sha2::Digest::update(d, bytes),
        }
    }

    /// The digest's bytes, big-endian as S3 encodes CRCs.
    pub fn finalize(self) -> Vec<u8> {
        match self {
            Hasher::Crc(d, 4) => (d.finalize() as u32).to_be_bytes().to_vec(),
            Hasher::Crc(d, _) => d.finalize().to_be_bytes().to_vec(),
            Hasher::Sha256(d) => sha2::Digest::finalize(d).to_vec(),
        }
    }
}

/// The base64 `algorithm` checksum of `bytes`, as S3 writes it.
pub fn of(algorithm: ChecksumAlgorithm, bytes: &[u8]) -> String {
    let mut hasher = Hasher::new(algorithm);
    hasher.update(bytes);
    base64::engine::general_purpose::STANDARD.encode(hasher.finalize())
}

/// The whole object's CRC from its parts' (base64) CRCs and lengths, in part order: what S3
/// computes for a `FULL_OBJECT` multipart checksum. `None` for SHA-256 (it doesn't combine), no
/// parts, or a value that is not one of the algorithm's.
pub fn combine(algorithm: ChecksumAlgorithm, parts: &[(&str, u64)]) -> Option<String> {
    use base64::Engine;
    use crc_fast::CrcAlgorithm as C;
    let (crc, width) = match algorithm {
        ChecksumAlgorithm::Crc64nvme => (C::Crc64Nvme, 8),
        ChecksumAlgorithm::Crc32c => (C::Crc32Iscsi, 4),
        ChecksumAlgorithm::Crc32 => (C::Crc32IsoHdlc, 4),
        ChecksumAlgorithm::Sha256 => return None,
    };
    let value = |b64: &str| -> Option<u64> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
        (bytes.len() == width).then(|| bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)))
    };
    let (first, rest) = parts.split_first()?;
    let mut whole = value(first.0)?;
    for (part, len) in rest {
        whole = crc_fast::checksum_combine(crc, whole, value(part)?, *len);
    }
    let bytes = whole.to_be_bytes();
    Some(base64::engine::general_purpose::STANDARD.encode(&bytes[8 - width..]))
}

/// The composite checksum of parts with these (base64) checksums: the checksum of their
/// concatenated digests, `-<parts>` (S3's `COMPOSITE` type).
pub fn composite(algorithm: ChecksumAlgorithm, parts: &[&str]) -> String {
    let mut hasher = Hasher::new(algorithm);
    for part in parts {
        hasher.update(&base64::engine::general_purpose::STANDARD.decode(part).unwrap_or_default());
    }
    format!("{}-{}", base64::engine::general_purpose::STANDARD.encode(hasher.finalize()), parts.len())
}

impl ChecksumType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumType::FullObject => "FULL_OBJECT",
            ChecksumType::Composite => "COMPOSITE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::CRC64NVME_OF_123456789;

    #[test]
    fn parts_crcs_combine_into_the_whole_objects_as_s3_computes_it() {
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for algorithm in ChecksumAlgorithm::ALL {
            let pieces: Vec<&[u8]> = vec![&bytes[..40_000], &bytes[40_000..80_000], &bytes[80_000..]];
            let sums: Vec<String> = pieces.iter().map(|p| of(algorithm, p)).collect();
            let parts: Vec<(&str, u64)> =
                sums.iter().map(String::as_str).zip(pieces.iter().map(|p| p.len() as u64)).collect();
            let combined = combine(algorithm, &parts);
            match algorithm {
                ChecksumAlgorithm::Sha256 => assert_eq!(combined, None),
                _ => assert_eq!(combined, Some(of(algorithm, &bytes)), "{}", algorithm.as_str()),
            }
        }
        assert_eq!(combine(ChecksumAlgorithm::Crc32, &[("not base64!", 1)]), None);
        assert_eq!(combine(ChecksumAlgorithm::Crc32, &[]), None);
    }

    #[test]
    fn values_are_checked_for_base64_and_the_algorithms_length() {
        let crc64 = base64::engine::general_purpose::STANDARD.encode(CRC64NVME_OF_123456789.to_be_bytes());
        assert_eq!(ChecksumAlgorithm::Crc64nvme.check("checksum", &crc64).unwrap(), crc64);
        // The check values of each algorithm for "123456789".
        assert_eq!(of(ChecksumAlgorithm::Crc64nvme, b"123456789"), crc64);
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(of(ChecksumAlgorithm::Crc32, b"123456789"), b64(&0xCBF43926u32.to_be_bytes()));
        assert_eq!(of(ChecksumAlgorithm::Crc32c, b"123456789"), b64(&0xE3069283u32.to_be_bytes()));
        assert_eq!(of(ChecksumAlgorithm::Sha256, b"").len(), 44);
        let err = ChecksumAlgorithm::Crc32c.check("partChecksums[0]", &crc64).unwrap_err();
        assert!(err.message.contains("partChecksums[0] is 8 bytes; a crc32c checksum is 4 bytes"), "{err}");
        assert_eq!(ChecksumAlgorithm::Sha256.check("c", "not base64!").unwrap_err().code, "invalid_checksum");
        assert_eq!(ChecksumAlgorithm::parse("CRC64NVME"), Some(ChecksumAlgorithm::Crc64nvme));
        assert_eq!(ChecksumAlgorithm::Sha256.multipart_type(), ChecksumType::Composite);
        assert_eq!(ChecksumAlgorithm::Crc32.header(), "x-amz-checksum-crc32");
        let json = serde_json::to_value(Checksum {
            algorithm: ChecksumAlgorithm::Crc64nvme,
            kind: ChecksumType::FullObject,
            value: crc64.clone(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"algorithm": "crc64nvme", "type": "FULL_OBJECT", "value": crc64})
        );
    }
}
