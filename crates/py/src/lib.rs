//! `import liquidator`: the columnar entry point (`liquidator-columnar`) for Python and Spark workers.
//!
//! Record batches cross the boundary as **Arrow IPC streams** (bytes): pyarrow writes and reads them
//! natively, and the extension does not depend on pyarrow's or arrow-rs's C interface versions. The
//! copy costs little next to the liquidation (`README.md`, Spark figures).
//!
//! The reference set is opened **once per process** ([`open_refs`] keeps it by path): Spark reuses
//! its Python workers across tasks, so a worker maps the compiled snapshot (`refs compile`) once and
//! every task of that worker shares it.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use liquidator_columnar::Liquidator as Inner;
use liquidator_core::output::Summary;
use liquidator_core::refs::Refs as CoreRefs;
use liquidator_export::parquet::PseudonymKey;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

fn err(e: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

/// A reference set, shared by every `Liquidator` of the process that opened it with the same path.
#[pyclass(frozen)]
struct Refs {
    inner: Arc<CoreRefs>,
    path: String,
}

#[pymethods]
impl Refs {
    fn __repr__(&self) -> String {
        format!("liquidator.Refs({:?})", self.path)
    }
}

/// Opens the reference set in `path` (its `refs.snapshot` when present) once per process.
#[pyfunction]
fn open_refs(path: &str) -> PyResult<Refs> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Arc<CoreRefs>>>> = OnceLock::new();
    let key = std::fs::canonicalize(path).map_err(|e| err(format!("{path}: {e}")))?;
    let mut open = OPEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let inner = match open.get(&key) {
        Some(r) => r.clone(),
        None => {
            LOADS.fetch_add(1, Ordering::Relaxed);
            let r = Arc::new(
                CoreRefs::load(&key).map_err(|e| err(format!("invalid reference tables: {e}")))?,
            );
            open.insert(key, r.clone());
            r
        }
    };
    Ok(Refs {
        inner,
        path: path.to_string(),
    })
}

/// Reference sets this process has loaded (not counting reuses): the Spark job reports it per task
/// to show that a worker opens the set once.
static LOADS: AtomicUsize = AtomicUsize::new(0);

#[pyfunction]
fn refs_loaded() -> usize {
    LOADS.load(Ordering::Relaxed)
}

fn read_ipc(bytes: &[u8]) -> PyResult<Vec<RecordBatch>> {
    let r =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).map_err(err)?;
    r.collect::<Result<Vec<_>, _>>().map_err(err)
}

fn write_ipc(schema: &SchemaRef, batches: &[RecordBatch]) -> PyResult<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut out, schema).map_err(err)?;
        for b in batches {
            w.write(b).map_err(err)?;
        }
        w.finish().map_err(err)?;
    }
    Ok(out)
}

/// One stream of claims (a Spark partition): `push` claims record batches (IPC bytes, layout
/// `formats/claims-arrow.md`) in file order per batch, then `finish`; each returns the liquidated
/// lines (IPC bytes, layout `formats/parquet.md`).
#[pyclass]
struct Liquidator {
    inner: Inner,
    schema: SchemaRef,
}

#[pymethods]
impl Liquidator {
    /// `key`: the pseudonym secret (formats/parquet.md), at least 16 bytes.
    #[new]
    fn new(refs: &Refs, key: &[u8]) -> PyResult<Liquidator> {
        let key = PseudonymKey::from_secret(key).map_err(PyValueError::new_err)?;
        Ok(Liquidator {
            inner: Inner::new(refs.inner.clone(), key),
            schema: liquidator_export::parquet::schema(),
        })
    }

    fn push<'py>(&mut self, py: Python<'py>, claims_ipc: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let mut out = Vec::new();
        for b in read_ipc(claims_ipc)? {
            out.extend(self.inner.push(&b).map_err(err)?);
        }
        Ok(PyBytes::new(py, &write_ipc(&self.schema, &out)?))
    }

    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let out = self.inner.finish().map_err(err)?;
        Ok(PyBytes::new(py, &write_ipc(&self.schema, &out)?))
    }

    /// The totals of each batch liquidated by this stream (`summary.json`'s fields), as JSON.
    fn summaries_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner.summaries().map_err(err)?).map_err(err)
    }
}

/// Checks `summary.json`'s conservation identities on a (summed) summary given as JSON; returns it
/// with its `conservation` recomputed (the engine's own `Summary::check`).
#[pyfunction]
fn check_summary(summary_json: &str) -> PyResult<String> {
    let mut s: Summary =
        serde_json::from_str(summary_json).map_err(|e| PyValueError::new_err(e.to_string()))?;
    s.check();
    serde_json::to_string_pretty(&s).map_err(err)
}

/// The liquidated lines' Arrow schema as an empty IPC stream (`formats/parquet.md`).
#[pyfunction]
fn liquidated_lines_schema_ipc<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(
        py,
        &write_ipc(&liquidator_export::parquet::schema(), &[])?,
    ))
}

/// The claims layout's Arrow schema as an empty IPC stream (`formats/claims-arrow.md`).
#[pyfunction]
fn claims_schema_ipc<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(
        py,
        &write_ipc(&liquidator_columnar::layout::schema(), &[])?,
    ))
}

#[pymodule]
fn liquidator(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Refs>()?;
    m.add_class::<Liquidator>()?;
    m.add_function(wrap_pyfunction!(open_refs, m)?)?;
    m.add_function(wrap_pyfunction!(refs_loaded, m)?)?;
    m.add_function(wrap_pyfunction!(check_summary, m)?)?;
    m.add_function(wrap_pyfunction!(liquidated_lines_schema_ipc, m)?)?;
    m.add_function(wrap_pyfunction!(claims_schema_ipc, m)?)?;
    Ok(())
}
