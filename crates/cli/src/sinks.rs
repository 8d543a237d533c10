//! The extra sinks of `run`, fed by the same pass as the TSV files: the report's aggregates
//! (`report_data.json`, always) and, with `--parquet`, the Parquet export (export crate, feature
//! `parquet`) with the pseudonym key it needs, read at run time.

use liquidator_core::claims::BatchHeader;
use liquidator_core::sink::{Sink, SinkError};
use liquidator_export::report::data::AggregatesSink;
use std::path::Path;
use std::process::ExitCode;

/// The environment variable holding the pseudonym key when no `--pseudonym-key-file` is given.
pub const KEY_ENV: &str = "LIQUIDATOR_PSEUDONYM_KEY";

#[cfg(feature = "parquet")]
pub use liquidator_export::parquet::PseudonymKey;

/// Without the `parquet` feature there is no export, hence no key.
#[cfg(not(feature = "parquet"))]
pub struct PseudonymKey;

/// The key from `file` (its bytes, a final newline removed) or from `LIQUIDATOR_PSEUDONYM_KEY`.
/// Missing or too short: a usage error (exit 2) — an export with a guessable pseudonym is refused.
pub fn pseudonym_key(file: Option<&Path>) -> Result<PseudonymKey, ExitCode> {
    let secret: Vec<u8> = match file {
        Some(f) => match std::fs::read(f) {
            Ok(mut b) => {
                while b.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
                    b.pop();
                }
                b
            }
            Err(e) => {
                eprintln!("liquidator: {}: {e}", f.display());
                return Err(ExitCode::from(5));
            }
        },
        None => match std::env::var_os(KEY_ENV) {
            Some(v) => v.into_encoded_bytes(),
            None => {
                eprintln!(
                    "liquidator: --parquet needs a pseudonym key: --pseudonym-key-file FILE or {KEY_ENV} (formats/parquet.md)"
                );
                return Err(ExitCode::from(2));
            }
        },
    };
    make_key(&secret)
}

#[cfg(feature = "parquet")]
fn make_key(secret: &[u8]) -> Result<PseudonymKey, ExitCode> {
    PseudonymKey::from_secret(secret).map_err(|e| {
        eprintln!("liquidator: pseudonym key: {e}");
        ExitCode::from(2)
    })
}

#[cfg(not(feature = "parquet"))]
fn make_key(_: &[u8]) -> Result<PseudonymKey, ExitCode> {
    eprintln!("liquidator: this binary was built without the `parquet` feature");
    Err(ExitCode::from(2))
}

/// The batch header of a claims file (`None` when unreadable: the run itself then refuses the batch).
pub fn batch_header(claims: &Path) -> Option<BatchHeader> {
    use std::io::Read;
    let mut head = Vec::with_capacity(256);
    std::fs::File::open(claims)
        .ok()?
        .take(4096)
        .read_to_end(&mut head)
        .ok()?;
    liquidator_core::engine::batch_header(&head)
        .ok()
        .map(|(h, _)| h)
}

/// The extra sinks of a run writing into the staging directory `dir`: the report's aggregates
/// (`report_data.json`), and the Parquet export when a key is given (with the batch header of the claims file: its number and date are columns).
#[cfg(feature = "parquet")]
pub fn sinks<'s>(
    dir: &Path,
    key: Option<&PseudonymKey>,
    batch: Option<&BatchHeader>,
) -> Result<Vec<Box<dyn Sink + 's>>, SinkError> {
    let mut v: Vec<Box<dyn Sink + 's>> = vec![Box::new(AggregatesSink::new(dir))];
    if let Some(k) = key {
        let mut p = liquidator_export::parquet::ParquetSink::create(dir, k.clone())?;
        if let Some(b) = batch {
            p = p.with_batch(b);
        }
        v.push(Box::new(p));
    }
    Ok(v)
}

#[cfg(not(feature = "parquet"))]
pub fn sinks<'s>(
    dir: &Path,
    _: Option<&PseudonymKey>,
    _: Option<&BatchHeader>,
) -> Result<Vec<Box<dyn Sink + 's>>, SinkError> {
    Ok(vec![Box::new(AggregatesSink::new(dir))])
}
