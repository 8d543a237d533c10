//! The claims file: record layouts ([`record`]), the streaming reader ([`reader`]) (the record writer
//! lives in the test kit crate). Layout: `formats/claims-b2.md`.

pub mod reader;
pub mod record;

pub use reader::{Chunk, ClaimError, ParsedClaim, Pos};
pub use record::{Act, ActLine, BatchHeader, BatchTrailer, ClaimHeader};
