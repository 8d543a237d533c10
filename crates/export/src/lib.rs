//! # liquidator-export — what a run is turned into for people and other tools
//!
//! - [`report`]: the self-contained HTML run report.
//! - [`parquet`] (feature `parquet`): the Parquet export of liquidated lines.
//!
//! Depends on the core only; the core never depends on it.

#[cfg(feature = "parquet")]
pub mod parquet;
pub mod report;
