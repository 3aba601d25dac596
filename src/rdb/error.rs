//! The failures of decoding or encoding RDB data, mapped to Redis's replies by callers.

/// Why RDB bytes could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RdbError {
    /// A DUMP payload's footer: version too new, checksum wrong, or too short.
    #[error("DUMP payload version or checksum are wrong")]
    BadPayload,
    /// The bytes do not decode as Redis wrote them (truncated, inconsistent, hostile).
    #[error("corrupt RDB data: {0}")]
    Corrupt(String),
    /// A type this build does not read (modules, Redis 7.4's hash-field TTL encodings).
    #[error("unsupported RDB object type {0}")]
    UnsupportedType(u8),
    #[error("unsupported RDB version {0}")]
    BadVersion(u32),
    #[error("RDB file checksum mismatch")]
    FileChecksum,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl RdbError {
    pub(crate) fn corrupt(what: impl Into<String>) -> RdbError {
        RdbError::Corrupt(what.into())
    }
}

pub type RdbResult<T> = Result<T, RdbError>;
