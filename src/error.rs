//! Errors and their single mapping to Redis's wire error strings.
//!
//! Storage code raises [`StoreError`]; command code raises [`CmdError`]. The only place that
//! turns either into the text a client sees is [`CmdError::to_wire`], so every reply error in
//! the server has exactly one spelling, Redis 7's.
//!
//! Depends on nothing but `thiserror`.

use thiserror::Error;

/// Failures of the storage layer (engine, encoding, typed operations).
#[derive(Debug, Clone, Error)]
pub enum StoreError {
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("value is not an integer or out of range")]
    NotInteger,
    #[error("value is not a valid float")]
    NotFloat,
    #[error("increment or decrement would overflow")]
    Overflow,
    #[error("increment would produce NaN or Infinity")]
    NanOrInfinity,
    #[error("string exceeds maximum allowed size")]
    StringTooLong,
    #[error("hash value is not an integer")]
    HashNotInteger,
    #[error("hash value is not a float")]
    HashNotFloat,
    #[error("resulting score is not a number (NaN)")]
    ScoreNan,
    #[error("no such key")]
    NoSuchKey,
    #[error("index out of range")]
    IndexOutOfRange,
    #[error("WRONGTYPE Key is not a valid HyperLogLog string value.")]
    InvalidHll,
    #[error("INVALIDOBJ Corrupted HLL object detected")]
    CorruptHll,
    #[error("engine: {0}")]
    Engine(String),
    /// A write the engine could not persist (disk full, read-only filesystem); the text is
    /// the cause.
    #[error("{0}")]
    WriteFailed(String),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// A local write on a replica, whose data only its primary's stream may change.
    #[error("READONLY You can't write against a read only replica.")]
    ReadOnlyReplica,
}

/// Failures a command reports to the client. `Display` is the wire text without the leading
/// `-` (for example `ERR syntax error`).
#[derive(Debug, Error)]
pub enum CmdError {
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR DUMP payload version or checksum are wrong")]
    BadDumpPayload,
    #[error("ERR Bad data format")]
    BadDataFormat,
    #[error("BUSYKEY Target key name already exists.")]
    BusyKey,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR increment would produce NaN or Infinity")]
    NanOrInfinity,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpire(String),
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    #[error("ERR offset is out of range")]
    OffsetOutOfRange,
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    UnknownCommand { name: String, args: String },
    #[error("ERR unknown subcommand '{sub}'. Try {cmd} HELP.")]
    UnknownSubcommand { cmd: String, sub: String },
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    #[error("WRONGPASS invalid username-password pair or user is disabled.")]
    WrongPass,
    #[error("ERR invalid cursor")]
    InvalidCursor,
    #[error("READONLY You can't write against a read only replica.")]
    ReadOnlyReplica,
    #[error("LOADING Redis is loading the dataset in memory")]
    Loading,
    #[error("NOREPLICAS Not enough good replicas to write.")]
    NoReplicas,
    #[error("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")]
    MasterDown,
    #[error("NOPERM this user has no permissions to run the '{0}' command")]
    NoPermCommand(String),
    #[error("NOPERM this user has no permissions to access one of the keys used as arguments")]
    NoPermKey,
    #[error("NOPERM this user has no permissions to access one of the channels used as arguments")]
    NoPermChannel,
    /// A script's `redis.call` denied by ACL (Redis words it for the script's user).
    #[error("ERR The user executing the script can't run this command or subcommand")]
    ScriptNoPermCommand,
    #[error(
        "ERR The user executing the script can't access at least one of the keys mentioned in \
         the command arguments"
    )]
    ScriptNoPermKey,
    #[error(
        "ERR The user executing the script can't publish to the channel mentioned in the command"
    )]
    ScriptNoPermChannel,
    /// A queued command that ACL rules no longer allow when `EXEC` runs it.
    #[error(
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the \
         EXEC call. This command is no longer allowed for the following reason: {0}"
    )]
    NoPermAtExec(String),
    #[error("{0}")]
    WrongType(#[from] WrongTypeMarker),
    /// Any other Redis error; the string already carries its prefix (`ERR ...`, `NOPROTO ...`).
    #[error("{0}")]
    Custom(String),
    #[error("ERR internal error: {0}")]
    Internal(String),
}

/// Zero-sized marker so `StoreError::WrongType` maps to the one WRONGTYPE text.
#[derive(Debug, Error)]
#[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
pub struct WrongTypeMarker;

impl CmdError {
    /// Builds an error whose text the caller spells out in full (prefix included).
    pub fn custom(text: impl Into<String>) -> Self {
        CmdError::Custom(text.into())
    }

    /// The error line as sent on the wire, without `-` and CRLF. Newlines would break the
    /// protocol, so they are flattened to spaces as Redis does.
    pub fn to_wire(&self) -> String {
        let text = self.to_string();
        if text.contains(['\r', '\n']) {
            text.replace(['\r', '\n'], " ")
        } else {
            text
        }
    }
}

impl From<StoreError> for CmdError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::WrongType => CmdError::WrongType(WrongTypeMarker),
            StoreError::NotInteger => CmdError::NotInteger,
            StoreError::NotFloat => CmdError::NotFloat,
            StoreError::Overflow => CmdError::Overflow,
            StoreError::NanOrInfinity => CmdError::NanOrInfinity,
            StoreError::StringTooLong => CmdError::StringTooLong,
            StoreError::HashNotInteger => CmdError::custom("ERR hash value is not an integer"),
            StoreError::HashNotFloat => CmdError::custom("ERR hash value is not a float"),
            StoreError::NoSuchKey => CmdError::NoSuchKey,
            StoreError::IndexOutOfRange => CmdError::custom("ERR index out of range"),
            StoreError::ScoreNan => CmdError::custom("ERR resulting score is not a number (NaN)"),
            StoreError::InvalidHll | StoreError::CorruptHll => CmdError::custom(err.to_string()),
            // Redis's reply when its AOF cannot be written.
            StoreError::WriteFailed(cause) => {
                CmdError::custom(format!("MISCONF Errors writing to the AOF file: {cause}"))
            }
            StoreError::ReadOnlyReplica => CmdError::ReadOnlyReplica,
            other => CmdError::Internal(other.to_string()),
        }
    }
}

/// A RESTORE payload that fails its footer check, or whose value does not decode.
impl From<crate::rdb::RdbError> for CmdError {
    fn from(err: crate::rdb::RdbError) -> Self {
        match err {
            crate::rdb::RdbError::BadPayload => CmdError::BadDumpPayload,
            _ => CmdError::BadDataFormat,
        }
    }
}

pub type CmdResult<T> = Result<T, CmdError>;
pub type StoreResult<T> = Result<T, StoreError>;
