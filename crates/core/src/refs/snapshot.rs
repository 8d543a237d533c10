//! The compiled reference snapshot (`DIR/refs.snapshot`, `formats/refs.md` "Compiled snapshot"): the
//! beneficiaries store's arrays (keys, rows, interned insurers, radix index, ALD periods) written once
//! by `liquidator refs compile DIR`, then mapped and used in place by every later load of `DIR` — no
//! parsing, no sorting, and file-backed memory (the page cache, shared between runs) instead of
//! anonymous memory.
//!
//! * Layout: a fixed [`Header`] (magic, format version, the crate version that wrote it, the key range
//!   of the radix index, the identity of the source files, a section table with offsets, lengths and
//!   checksums, and a checksum of the header itself), then five sections of `bytemuck::Pod` rows, each
//!   at a 4 KiB-aligned offset, in native (little-endian) byte order.
//! * Use: [`Refs::load`] opens `DIR/refs.snapshot` instead of parsing `beneficiaries.tsv` and `ald.tsv`
//!   when the file exists ([`beside`]); without it, the TSV files are parsed as before.
//! * Refusal, never silent use: a snapshot is refused (a [`LoadError`] naming it, exit 3 in the
//!   binary) when its magic, format version, crate version, byte order, header checksum, length
//!   (truncated), a section's checksum or the consistency of its arrays is wrong (corrupt), or when a
//!   source TSV's size, modification time or sampled content fingerprint differs from what was recorded
//!   at compile (stale: the message names the file). The checksums of every section are verified at each
//!   open, in parallel blocks.

use super::Refs;
use super::beneficiaries::{AldRow, AmcRow, BankRow, BenefRow, Beneficiaries, MapRanges};
use super::tsv::LoadError;
use bytemuck::{Pod, Zeroable};
use rayon::prelude::*;
use std::cell::Cell;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File name of the snapshot in a reference directory.
pub const FILE: &str = "refs.snapshot";
/// Version of the layout below; bumped on any change of the header or of a row type.
pub const FORMAT_VERSION: u32 = 2;
const MAGIC: [u8; 8] = *b"LIQSNAP\0";
/// Written as a native `u32`: reads back differently on a machine of the other byte order.
const BYTE_ORDER: u32 = 0x0102_0304;
/// Sections start at multiples of this (page-aligned: every row type is aligned in the mapping).
const ALIGN: u64 = 4096;
/// Checksum block: a section's checksum is the xxh3 of the xxh3 of its blocks, so that blocks are
/// hashed in parallel.
const BLOCK: usize = 4 << 20;
/// The source files the snapshot stands for, in the header's order.
const SOURCES: [&str; 2] = ["beneficiaries.tsv", "ald.tsv"];
/// Sampled content fingerprint of a source: this many blocks of `SAMPLE` bytes, evenly spread from
/// the first to the last byte (the whole file when it is smaller).
const SAMPLES: u64 = 64;
const SAMPLE: u64 = 4096;

const SECTION_NAMES: [&str; 6] = ["keys", "rows", "amcs", "radix", "ald", "banks"];
const SECTION_ELEM: [usize; 6] = [
    std::mem::size_of::<u64>(),
    std::mem::size_of::<BenefRow>(),
    std::mem::size_of::<AmcRow>(),
    std::mem::size_of::<u32>(),
    std::mem::size_of::<AldRow>(),
    std::mem::size_of::<BankRow>(),
];

/// Identity of one source file at compile time.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
struct Source {
    /// File name in the reference directory, NUL-padded.
    name: [u8; 32],
    size: u64,
    /// Modification time: seconds since the Unix epoch and nanoseconds.
    mtime_s: i64,
    mtime_ns: u32,
    _pad: u32,
    /// xxh3 of the sampled blocks and the size.
    fingerprint: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
struct Section {
    /// 1 + index in `SECTION_NAMES`.
    kind: u32,
    /// Size of one element.
    elem: u32,
    offset: u64,
    /// Length in bytes.
    len: u64,
    checksum: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
struct Header {
    magic: [u8; 8],
    format: u32,
    byte_order: u32,
    /// Version of `liquidator-core` that wrote the file, NUL-padded.
    crate_version: [u8; 32],
    header_len: u64,
    file_len: u64,
    /// Key range and shift of the radix index.
    min: u64,
    span: u64,
    shift: u32,
    n_sources: u32,
    n_sections: u32,
    _pad: u32,
    sources: [Source; 2],
    sections: [Section; 6],
    /// xxh3 of the header with this field zero.
    header_checksum: u64,
}

const HEADER_LEN: usize = std::mem::size_of::<Header>();

thread_local! {
    /// Set while `compile` loads the TSV files (a snapshot beside them must not be read then).
    static IGNORE: Cell<bool> = const { Cell::new(false) };
}

/// The snapshot of `dir` if one exists there (and this thread is not compiling one).
pub fn beside(dir: &Path) -> Option<PathBuf> {
    if IGNORE.with(Cell::get) {
        return None;
    }
    let p = dir.join(FILE);
    p.exists().then_some(p)
}

/// What `compile` wrote.
#[derive(Debug)]
pub struct Compiled {
    pub path: PathBuf,
    pub rows: usize,
    pub ald: usize,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The reference set is invalid (or changed while it was being compiled).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The snapshot could not be written.
    #[error("{0}")]
    Io(String),
}

/// `liquidator refs compile DIR`: loads and checks the whole reference set from its TSV files
/// (ignoring any snapshot already there), then writes `DIR/refs.snapshot` atomically (a hidden
/// temporary file, synced, renamed over the old one).
pub fn compile(dir: &Path) -> Result<Compiled, CompileError> {
    let before = identities(dir)?;
    let prev = IGNORE.with(|c| c.replace(true));
    let refs = Refs::load(dir);
    IGNORE.with(|c| c.set(prev));
    let refs = refs?;
    let after = identities(dir)?;
    if let Some((name, why)) = before.iter().zip(&after).find_map(|(a, b)| differs(a, b)) {
        return Err(CompileError::Load(LoadError {
            file: dir.join(name).display().to_string(),
            line: 0,
            column: 0,
            reason: format!("changed while the snapshot was being compiled ({why}); compile again"),
        }));
    }
    let dest = dir.join(FILE);
    let bytes = write(&dest, &refs.beneficiaries, &after)
        .map_err(|e| CompileError::Io(format!("{}: cannot write: {e}", dest.display())))?;
    Ok(Compiled {
        path: dest,
        rows: refs.beneficiaries.len(),
        ald: refs.beneficiaries.ald_len(),
        bytes,
    })
}

fn align_up(x: u64) -> u64 {
    x.div_ceil(ALIGN) * ALIGN
}

fn fixed<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (o, b) in out.iter_mut().zip(s.bytes()) {
        *o = b;
    }
    out
}

fn unfixed(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Checksums of sections, their blocks hashed in parallel.
fn checksums(sections: &[&[u8]]) -> Vec<u64> {
    let blocks: Vec<(usize, &[u8])> = sections
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.chunks(BLOCK).map(move |b| (i, b)))
        .collect();
    let hashes: Vec<(usize, u64)> = blocks
        .par_iter()
        .map(|&(i, b)| (i, xxhash_rust::xxh3::xxh3_64(b)))
        .collect();
    (0..sections.len())
        .map(|i| {
            let mut buf = (sections[i].len() as u64).to_le_bytes().to_vec();
            for (_, h) in hashes.iter().filter(|h| h.0 == i) {
                buf.extend_from_slice(&h.to_le_bytes());
            }
            xxhash_rust::xxh3::xxh3_64(&buf)
        })
        .collect()
}

fn header_checksum(h: &Header) -> u64 {
    let mut c = *h;
    c.header_checksum = 0;
    xxhash_rust::xxh3::xxh3_64(bytemuck::bytes_of(&c))
}

fn write(dest: &Path, b: &Beneficiaries, sources: &[Source; 2]) -> std::io::Result<u64> {
    let p = b.parts();
    let data: [&[u8]; 6] = [
        bytemuck::cast_slice(p.keys),
        bytemuck::cast_slice(p.rows),
        bytemuck::cast_slice(p.amcs),
        bytemuck::cast_slice(p.radix),
        bytemuck::cast_slice(p.ald),
        bytemuck::cast_slice(p.banks),
    ];
    let sums = checksums(&data);
    let mut sections = [Section::zeroed(); 6];
    let mut off = align_up(HEADER_LEN as u64);
    let mut end = off;
    for (i, s) in sections.iter_mut().enumerate() {
        *s = Section {
            kind: i as u32 + 1,
            elem: SECTION_ELEM[i] as u32,
            offset: off,
            len: data[i].len() as u64,
            checksum: sums[i],
        };
        end = off + s.len;
        off = align_up(end);
    }
    let mut h = Header {
        magic: MAGIC,
        format: FORMAT_VERSION,
        byte_order: BYTE_ORDER,
        crate_version: fixed(env!("CARGO_PKG_VERSION")),
        header_len: HEADER_LEN as u64,
        file_len: end,
        min: p.min,
        span: p.span,
        shift: p.shift,
        n_sources: SOURCES.len() as u32,
        n_sections: sections.len() as u32,
        _pad: 0,
        sources: *sources,
        sections,
        header_checksum: 0,
    };
    h.header_checksum = header_checksum(&h);
    let tmp = crate::output::files::partial_name(dest);
    let r = (|| {
        let f = crate::output::files::create_private(&tmp)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        w.write_all(bytemuck::bytes_of(&h))?;
        let mut at = HEADER_LEN as u64;
        let zeros = [0u8; ALIGN as usize];
        for (s, d) in sections.iter().zip(data) {
            w.write_all(&zeros[..(s.offset - at) as usize])?;
            w.write_all(d)?;
            at = s.offset + s.len;
        }
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, dest)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r.map(|()| end)
}

/// The identity of each source file now.
fn identities(dir: &Path) -> Result<[Source; 2], LoadError> {
    let mut out = [Source::zeroed(); 2];
    for (o, name) in out.iter_mut().zip(SOURCES) {
        let path = dir.join(name);
        *o = identity(&path, name).map_err(|e| LoadError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            reason: format!("cannot read: {e}"),
        })?;
    }
    Ok(out)
}

fn identity(path: &Path, name: &str) -> std::io::Result<Source> {
    let mut f = std::fs::File::open(path)?;
    let meta = f.metadata()?;
    let size = meta.len();
    let (mtime_s, mtime_ns) = match meta.modified()?.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => (
            -(e.duration().as_secs() as i64),
            e.duration().subsec_nanos(),
        ),
    };
    let mut buf = Vec::new();
    if size <= SAMPLES * SAMPLE {
        f.read_to_end(&mut buf)?;
    } else {
        buf.resize((SAMPLES * SAMPLE) as usize, 0);
        for (i, chunk) in buf.chunks_mut(SAMPLE as usize).enumerate() {
            f.seek(SeekFrom::Start(i as u64 * (size - SAMPLE) / (SAMPLES - 1)))?;
            f.read_exact(chunk)?;
        }
    }
    buf.extend_from_slice(&size.to_le_bytes());
    Ok(Source {
        name: fixed(name),
        size,
        mtime_s,
        mtime_ns,
        _pad: 0,
        fingerprint: xxhash_rust::xxh3::xxh3_64(&buf),
    })
}

/// How a source file differs from its recorded identity, if it does.
fn differs(recorded: &Source, now: &Source) -> Option<(String, String)> {
    let name = unfixed(&recorded.name);
    let why = if recorded.size != now.size {
        format!("size {} bytes, now {}", recorded.size, now.size)
    } else if (recorded.mtime_s, recorded.mtime_ns) != (now.mtime_s, now.mtime_ns) {
        "modification time differs".to_string()
    } else if recorded.fingerprint != now.fingerprint {
        "content differs".to_string()
    } else {
        return None;
    };
    Some((name, why))
}

/// Opens the snapshot `path` of the reference directory `dir`: checks it (header, sources, checksums,
/// arrays) and returns the store using its arrays in place. `amc_known` says whether an insurer and
/// contract exist in `amc.tsv` (checked on the snapshot's interned insurers, as the TSV load does).
pub fn open(
    dir: &Path,
    path: &Path,
    amc_known: &(dyn Fn(&[u8; 10], &[u8; 2]) -> bool + Sync),
) -> Result<Beneficiaries, LoadError> {
    let t0 = std::time::Instant::now();
    let refuse = |what: String| LoadError {
        file: path.display().to_string(),
        line: 0,
        column: 0,
        reason: format!(
            "reference snapshot refused: {what}; run `liquidator refs compile {}` again, or delete {} to load the TSV files",
            dir.display(),
            path.display()
        ),
    };
    let f = std::fs::File::open(path).map_err(|e| refuse(format!("cannot read: {e}")))?;
    let len = f
        .metadata()
        .map_err(|e| refuse(format!("cannot read: {e}")))?
        .len();
    if len < HEADER_LEN as u64 {
        let mut head = Vec::new();
        let _ = (&f).take(MAGIC.len() as u64).read_to_end(&mut head);
        return Err(refuse(if head.len() == MAGIC.len() && head != MAGIC {
            "not a liquidator reference snapshot (bad magic)".into()
        } else {
            format!("corrupt: truncated ({len} bytes, shorter than its {HEADER_LEN}-byte header)")
        }));
    }
    // SAFETY: a compiled snapshot is replaced only by a rename (`compile` writes a temporary file),
    // never modified in place, so the mapping does not change under the store; read-only mapping.
    #[allow(unsafe_code)] // see SAFETY above: mapping a file is unsafe by nature.
    let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| refuse(format!("cannot map: {e}")))?;
    let h: Header = bytemuck::try_pod_read_unaligned(&map[..HEADER_LEN])
        .map_err(|e| refuse(format!("corrupt header: {e}")))?;
    if h.magic != MAGIC {
        return Err(refuse(
            "not a liquidator reference snapshot (bad magic)".into(),
        ));
    }
    if h.byte_order != BYTE_ORDER {
        return Err(refuse("written on a machine of another byte order".into()));
    }
    if h.format != FORMAT_VERSION {
        return Err(refuse(format!(
            "format version {}, this liquidator reads version {FORMAT_VERSION}",
            h.format
        )));
    }
    if h.header_checksum != header_checksum(&h) {
        return Err(refuse("corrupt: header checksum mismatch".into()));
    }
    let version = unfixed(&h.crate_version);
    if version != env!("CARGO_PKG_VERSION") {
        return Err(refuse(format!(
            "compiled by liquidator {version}, this is {}",
            env!("CARGO_PKG_VERSION")
        )));
    }
    if h.header_len != HEADER_LEN as u64
        || h.n_sources as usize != SOURCES.len()
        || h.n_sections as usize != SECTION_NAMES.len()
    {
        return Err(refuse("corrupt: header layout".into()));
    }
    if h.file_len != len {
        return Err(refuse(format!(
            "corrupt: {len} bytes, its header says {}{}",
            h.file_len,
            if len < h.file_len { " (truncated)" } else { "" }
        )));
    }
    // Stale: a source changed since the compile.
    for rec in &h.sources {
        let name = unfixed(&rec.name);
        if !SOURCES.contains(&name.as_str()) {
            return Err(refuse(format!("corrupt: unknown source `{name}`")));
        }
        let src = dir.join(&name);
        let now = identity(&src, &name)
            .map_err(|e| refuse(format!("stale: {} cannot be read: {e}", src.display())))?;
        if let Some((_, why)) = differs(rec, &now) {
            return Err(refuse(format!(
                "stale: {} changed since the snapshot was compiled ({why})",
                src.display()
            )));
        }
    }
    // Section table: in bounds, aligned, whole elements.
    let mut ranges = Vec::with_capacity(6);
    for (i, s) in h.sections.iter().enumerate() {
        let end = s.offset.checked_add(s.len).filter(|&e| e <= len);
        let elem = SECTION_ELEM[i];
        match end {
            Some(end)
                if s.kind as usize == i + 1
                    && s.elem as usize == elem
                    && s.offset % ALIGN == 0
                    && s.len % elem as u64 == 0 =>
            {
                ranges.push(s.offset as usize..end as usize)
            }
            _ => {
                return Err(refuse(format!(
                    "corrupt: section `{}` out of bounds or malformed",
                    SECTION_NAMES[i]
                )));
            }
        }
    }
    // Padding between the header and the sections must be zero: with the checksums, any change of any
    // byte of the file is refused.
    let mut at = HEADER_LEN;
    for (i, r) in ranges.iter().enumerate() {
        if r.start < at || map[at..r.start].iter().any(|&b| b != 0) {
            return Err(refuse(format!(
                "corrupt: bytes before section `{}`",
                SECTION_NAMES[i]
            )));
        }
        at = r.end;
    }
    let t1 = std::time::Instant::now();
    let data: Vec<&[u8]> = ranges.iter().map(|r| &map[r.clone()]).collect();
    let sums = checksums(&data);
    for (i, (s, sum)) in h.sections.iter().zip(&sums).enumerate() {
        if s.checksum != *sum {
            return Err(refuse(format!(
                "corrupt: checksum of section `{}` does not match",
                SECTION_NAMES[i]
            )));
        }
    }
    let t2 = std::time::Instant::now();
    let mut r = ranges.into_iter();
    let (Some(keys), Some(rows), Some(amcs), Some(radix), Some(ald), Some(banks)) =
        (r.next(), r.next(), r.next(), r.next(), r.next(), r.next())
    else {
        return Err(refuse("corrupt: section table".into()));
    };
    let mut b = Beneficiaries::from_map(
        map,
        MapRanges {
            keys,
            rows,
            amcs,
            radix,
            ald,
            banks,
        },
        h.shift,
        h.min,
        h.span,
    );
    let parts = b.parts();
    parts.check().map_err(|e| refuse(format!("corrupt: {e}")))?;
    for a in parts.amcs {
        if !amc_known(&a.amc, &a.contract) {
            return Err(LoadError {
                file: dir.join("beneficiaries.tsv").display().to_string(),
                line: 0,
                column: 0,
                reason: format!(
                    "amc: complementary insurer/contract `{}`/`{}` not in amc.tsv",
                    String::from_utf8_lossy(&a.amc).trim_end(),
                    String::from_utf8_lossy(&a.contract).trim_end()
                ),
            });
        }
    }
    // The ALD index is built from the arrays once they are checked (sorted keys and ALD rows).
    let t3 = std::time::Instant::now();
    b.build_ald_index();
    if crate::timing_on() {
        eprintln!(
            "timing: beneficiaries snapshot open {:?} (header+sources {:?}, checksums {:?}, checks {:?}, ALD index {:?})",
            t0.elapsed(),
            t1 - t0,
            t2 - t1,
            t3 - t2,
            t3.elapsed()
        );
    }
    Ok(b)
}
