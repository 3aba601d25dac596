//! Redis's CRC-64 (Jones polynomial, reflected), over DUMP payloads and RDB files.

use ::crc::{Crc, Digest, CRC_64_REDIS};

static CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_REDIS);

pub fn checksum(bytes: &[u8]) -> u64 {
    CRC64.checksum(bytes)
}

pub fn digest() -> Digest<'static, u64> {
    CRC64.digest()
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_redis_test_vector() {
        assert_eq!(super::checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
    }
}
