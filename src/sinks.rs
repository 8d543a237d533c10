//! `run --parquet`: the Parquet export as one more sink of the run (export crate, feature `parquet`),
//! and the pseudonym key it needs, read at run time.

use liquidator_core::sink::{Sink, SinkError};
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

/// The extra sinks of a run writing into the staging directory `dir`.
#[cfg(feature = "parquet")]
pub fn sinks<'s>(
    dir: &Path,
    key: Option<&PseudonymKey>,
) -> Result<Vec<Box<dyn Sink + 's>>, SinkError> {
    match key {
        Some(k) => Ok(vec![Box::new(
            liquidator_export::parquet::ParquetSink::create(dir, k.clone())?,
        )]),
        None => Ok(Vec::new()),
    }
}

#[cfg(not(feature = "parquet"))]
pub fn sinks<'s>(_: &Path, _: Option<&PseudonymKey>) -> Result<Vec<Box<dyn Sink + 's>>, SinkError> {
    Ok(Vec::new())
}
