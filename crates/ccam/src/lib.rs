//! # liquidator-ccam — the official CCAM import
//!
//! Reads the official CCAM exports (`formats/ccam-official.md`) into a dated multi-version history and
//! writes it as the reference set's CCAM tables; `refs build` / `refs lookup` assemble and show a
//! reference set. Depends on the core only.
//!
//! - [`official`]: parser of one official export and the merge of versions into one dated history.
//! - [`build`]: `liquidator refs build` and `refs lookup`.
//! - [`embedded`]: our regulatory tables and the official exports, carried by the binary.

pub mod build;
pub mod embedded;
pub mod official;
