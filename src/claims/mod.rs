//! The claims file: record layouts ([`record`]), the streaming reader ([`reader`]) and the record
//! writer used by the generator and the fixtures ([`write`]). Layout: `formats/claims-b2.md`.

pub mod reader;
pub mod record;
pub mod write;

pub use reader::{Chunk, ClaimError, ParsedClaim, Pos};
pub use record::{Act, ActLine, BatchHeader, BatchTrailer, ClaimHeader};
