//! # liquidator-testkit — writing claims files
//!
//! - [`write`]: the B2-like record writer (the reader's inverse), used by the generator, the
//!   scenarios, tests, benches and fuzz targets.
//! - [`generator`]: `liquidator gen`, the synthetic national day and the sample fixture's scenarios.

pub mod generator;
pub mod write;
