//! The integration tests, one binary: every module below used to be its own test binary, each linking the
//! whole workspace (19 links). One binary links once; `cargo test --test it <module>` runs one module.

mod bad_input;
mod bad_refs;
mod cli;
mod columnar;
mod common;
mod debts;
mod engine;
mod franchises_exemptions;
mod kill;
mod ledger;
mod ledger_kill;
mod line_rejections;
mod ngap;
mod parquet;
mod parquet_dict;
mod payment_orders;
mod proptest_claims;
mod refs_ccam;
mod report;
mod reprocess;
mod review_regressions;
mod rules;
mod sample;
mod sessions;
mod snapshot;
