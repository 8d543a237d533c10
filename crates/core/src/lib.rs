//! # liquidator — batch liquidation of French health-insurance claims
//!
//! ## Bird's-eye view
//! A processing centre receives each day a file of electronic claims (B2-like fixed-width records:
//! `formats/claims-b2.md`). For every claim liquidator decides what the mandatory insurance (AMO) pays
//! and to whom, what the complementary insurer (AMC) and the patient owe — or rejects it with a coded
//! reason — using reference tables dated by the date of care (`formats/refs.md`). It writes a payment
//! file, a rejection file, one file per complementary insurer and a reconciled `summary.json`
//! (`formats/outputs.md`).
//!
//! Like ripgrep's Searcher × Matcher × Sink, the crate is Reader × Rules × Writer:
//!
//! ```text
//!   claims.b2 ──mmap──▶ claims::reader ──ParsedClaim──▶ engine (windows, shards) ──▶ rules::liquidate
//!                                                                                    │ Outcome
//!   refs/*.tsv ──▶ refs::Refs (immutable, indexed, dated) ◀── lookups ───────────────┘
//!                                                          output::* ◀── OutBufs (file order)
//!                                                          output::sink ──▶ OUT/ (atomic rename)
//! ```
//!
//! ## Code map
//! - [`money`]: integer cents and **the** rounding rule (half-up, one function).
//! - [`date`]: `YYYYMMDD` dates and `[from, to)` periods.
//! - [`nir`]: NIR key (97 − n mod 97, Corsica 2A/2B) and masking for logs.
//! - [`codes`]: the closed lists of rejection (`R…`), warning (`W…`) and batch (`B…`) codes.
//! - [`claims`]: record layouts (nom parsers), the streaming reader, the record writer.
//! - [`refs`]: the reference set — TSV loader with `file:line:column` errors, dated histories.
//! - [`ccam_official`]: loader for the official CCAM export and the dated multi-version history.
//! - [`rules`]: the liquidation rules, one module per family, each citing RULES.md.
//! - [`engine`]: windows, parallel parse, beneficiary shards, ordered output.
//! - [`output`]: file layouts, summary, atomic staging directory.
//! - [`reprocess`]: re-liquidation with a corrected reference set and adjustments against a previous run.
//! - [`generator`]: the synthetic national day and the scenario claims of the sample fixture.
//! - [`report`], [`parquet_out`]: the HTML run report and the Parquet export (read a run's outputs).
//! - [`progress`]: the operator's progress bar.
//! - [`cli`]: the command-line front end used by `main.rs` (thin).
//!
//! ## Invariants
//! - Architecture invariant: **money is exact** — amounts are `i64` cents; every fraction of a cent is
//!   rounded by `money::mul_div_round` (half-up) and nowhere else. No `f64` touches an amount.
//! - Architecture invariant: **dates decide rules** — every reference lookup is "the row whose
//!   `[valid_from, valid_to)` contains the date of care" (`refs::History::at`), never the processing date.
//! - Architecture invariant: **deterministic output** — window size, sub-chunk count and shard count are
//!   constants; shards process their claims in file order; outputs are emitted in file order. Same
//!   inputs, same bytes, for any `--threads`.
//! - Architecture invariant: **nothing lost** — every claim header starts exactly one claim, which ends
//!   paid or rejected; records outside claims are reported (`R002`); `summary.json` proves
//!   `claims_read = claims_paid + claims_rejected` and the billed-amount conservation.
//! - Architecture invariant: **the core is pure** — `claims::record`, `rules` and output formatting do no
//!   I/O and do not panic on input; I/O lives in `engine::run`, `output::sink` and `cli`.
//! - Architecture invariant: **reference data is data** — tariffs, modifiers, association and
//!   incompatibility lists, rates and caps come from dated tables, not from match arms.

pub mod claims;
pub mod codes;
pub mod date;
pub mod engine;
pub mod explain;
pub mod money;
pub mod nir;
pub mod output;
pub mod refdiff;
pub mod refs;
pub mod reprocess;
pub mod rules;
pub mod sink;
