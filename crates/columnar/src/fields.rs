//! Field names of read errors back to `&'static str`.
//!
//! The engine's read errors name the offending field with a `&'static str` (`ClaimError::field`,
//! rendered in the rejection's message). Decoded from a column, the name is a runtime string: it is
//! interned once (leaked) so that the decoded claim is the very value the parser made. The set is
//! bounded: the parser has a few dozen field names; past [`MAX`] distinct names the input is refused
//! rather than leaking memory without bound.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// More distinct names than the parser has fields: the column was not written from parsed claims.
pub const MAX: usize = 256;

pub fn intern(name: &str) -> Result<&'static str, String> {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut set = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(s) = set.get(name) {
        return Ok(s);
    }
    if set.len() >= MAX {
        return Err(format!(
            "read_error_field {name:?}: more than {MAX} distinct field names"
        ));
    }
    let s: &'static str = Box::leak(name.to_string().into_boxed_str());
    set.insert(s);
    Ok(s)
}
