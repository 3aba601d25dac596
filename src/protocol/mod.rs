//! The wire protocol: RESP2/RESP3 request parsing and reply encoding.
//!
//! A leaf module: it depends on `bytes` only, never on commands or storage. The parser turns
//! bytes into argument vectors (multibulk or inline), enforcing Redis's size limits; the
//! encoder turns [`Reply`] values into RESP2 or RESP3 bytes.

pub mod reply;
pub mod resp;
pub mod split;

pub use reply::Reply;
pub use resp::{encode_request, parse_command, Limits, ProtocolError, RequestParser};
pub use split::split_args;
