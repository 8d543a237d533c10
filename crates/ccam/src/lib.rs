//! # liquidator-ccam — the official CCAM import
//!
//! Reads the official CCAM exports (`formats/ccam-official.md`) into a dated multi-version history and
//! writes it as the reference set's CCAM tables; `refs build` / `refs lookup` assemble and show a
//! reference set. Depends on the core only.
//!
//! - [`official`]: the official export: `csv` (RFC-4180 reader with physical line numbers), `version`
//!   (line 1), `cells` (codes, tariffs, modifier lists, chapters), `parser` (one version), `history`
//!   (the dated merge of versions), `tsv` (the writer of the `ccam_*.tsv` tables).
//! - [`build`]: `liquidator refs build` and `refs lookup`.
//! - [`embedded`]: our regulatory tables and the official exports, carried by the binary.

pub mod build;
pub mod embedded;
pub mod official;
