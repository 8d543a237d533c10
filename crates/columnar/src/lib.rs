//! # liquidator-columnar — the engine on columnar claims (issue #15)
//!
//! - [`layout`]: the claims layout (`formats/claims-arrow.md`): parsed claims ↔ Arrow record batches.
//! - [`liquidate`]: the columnar entry point, [`Liquidator`]: claims batches in, liquidated-lines
//!   batches (`formats/parquet.md`, the export's own builder) out, through the core's typed entry
//!   point (`liquidator_core::session`) — the same rules, state and outcomes as `liquidator run`.
//! - [`convert`]: `liquidator convert`, a B2 file to claims Parquet bucketed by beneficiary.
//!
//! Depends on the core and the export; the core does not depend on it (no arrow in the core).

pub mod convert;
mod fields;
pub mod layout;
pub mod liquidate;

pub use liquidate::{Error, Liquidator};
