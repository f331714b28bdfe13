//! CRC-64/NVME, S3's default checksum, with hardware CRC (`crc-fast`, what the AWS SDKs use).
//!
//! Each part's is computed from the bytes read for its `PUT` (one pass over the file), and the
//! whole file's is combined from the parts' (CRC combination, no second pass), which is exactly
//! what S3 computes for a `FULL_OBJECT` multipart checksum.

use std::io::Read;
use std::path::Path;

use base64::Engine as _;
use crc_fast::CrcAlgorithm::Crc64Nvme;

/// What the API calls the algorithm.
pub const ALGORITHM: &str = "crc64nvme";

pub fn crc64(bytes: &[u8]) -> u64 {
    crc_fast::checksum(Crc64Nvme, bytes)
}

/// The CRC of `a`'s bytes followed by `b`'s (`b_len` of them), from the two CRCs.
pub fn combine(a: u64, b: u64, b_len: u64) -> u64 {
    crc_fast::checksum_combine(Crc64Nvme, a, b, b_len)
}

/// Base64 of the big-endian value, as S3 writes checksums.
pub fn encode(crc: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
}

/// The CRC-64/NVME of a whole file, read in 8 MiB pieces.
pub fn of_file(path: &Path) -> std::io::Result<u64> {
    let mut file = std::fs::File::open(path)?;
    let mut digest = crc_fast::Digest::new(Crc64Nvme);
    let mut buf = vec![0u8; 8 * 1024 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(digest.finalize());
        }
        digest.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_value_and_combining_parts_give_the_whole() {
        assert_eq!(crc64(b"123456789"), vidgate_domain::fixtures::CRC64NVME_OF_123456789);
        assert_eq!(encode(crc64(b"123456789")), "rosUhgp5mIg=");
        let whole = b"a video in three parts of uneven length";
        let (a, b, c) = (&whole[..7], &whole[7..20], &whole[20..]);
        let combined = combine(combine(crc64(a), crc64(b), b.len() as u64), crc64(c), c.len() as u64);
        assert_eq!(combined, crc64(whole));
    }
}
