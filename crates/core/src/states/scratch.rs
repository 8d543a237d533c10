//! Where a shard keeps its slots and its spill arena: on the heap, or in a scratch file of the run's
//! staging directory, mapped shared ([`Store`]; issue #13: at national size the states are the
//! largest memory that grows with the night, ≈ 360 MiB for 4.3 M beneficiaries).
//!
//! The scratch file is one sparse file, created in the staging directory and unlinked at once (it
//! never appears among the outputs, and nothing is left behind if the process dies). Each shard
//! maps two fixed regions of it — [`SLOTS_REGION`] bytes for its slots, [`SPILL_REGION`] for its
//! spill arena — so a shard's data grows in place, never copied to a larger buffer. The pages are
//! the page cache's (RssFile, not RssAnon): the kernel may write them back to the disk and evict
//! them under memory pressure, which anonymous memory (and memfd or tmpfs, anonymous memory under
//! another name) never could without swap. The file need not be durable: it is never synced, and
//! it disappears when the last region is unmapped (`States` dropped, before the outputs' rename).
//!
//! A region's pages are populated ahead of use, [`STEP`] bytes at a time, with
//! `MADV_POPULATE_WRITE`: the filesystem allocates their blocks then, so that a full disk is an
//! error here — the buffer moves to the heap — never a `SIGBUS` on a later write into the mapping.
//! A region that is full moves to the heap the same way. The heap is also where the states live
//! without a staging directory (`States::new`: tests, the columnar session, reprocess).

use bytemuck::Pod;
use std::path::Path;

/// Bytes of the states' scratch file mapped for one shard's index, slots and spill arena: 128 MiB
/// of slots is 2.8 M slots of 48 bytes (and the index's 16 M buckets hold 12 M keys a shard). As
/// `shard_of` stands, real keys fill 4 shards (ARCHITECTURE, "Known limits"): 11 M beneficiaries
/// in all, a shard that outgrows its region moving to the heap (correct, anonymous). Address space only
/// (128 GiB in all): the file is sparse and only populated pages cost memory or disk.
pub(crate) const STATE_REGIONS: [usize; 3] = [128 << 20, 128 << 20, 256 << 20];
/// Name of the states' scratch file in the staging directory (unlinked as soon as it is created).
pub(crate) const STATES: &str = ".states.scratch";
/// A region's populated part grows by this much at a time.
const STEP: usize = 256 << 10;

/// A growable array of plain-old-data values, on the heap or in a mapped region of the scratch file.
pub(crate) enum Store<T> {
    Heap(Vec<T>),
    File(FileRegion),
}

/// A region of the scratch file: its mapping, the bytes in use and the bytes populated.
pub(crate) struct FileRegion {
    map: memmap2::MmapMut,
    /// Bytes in use (a whole number of elements).
    len: usize,
    /// Bytes populated from the start of the region (a multiple of [`STEP`], at most the region).
    populated: usize,
}

impl<T> Default for Store<T> {
    fn default() -> Self {
        Store::Heap(Vec::new())
    }
}

impl<T: Pod> Store<T> {
    const SIZE: usize = std::mem::size_of::<T>();

    pub(crate) fn len(&self) -> usize {
        match self {
            Store::Heap(v) => v.len(),
            Store::File(r) => r.len / Self::SIZE,
        }
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            Store::Heap(v) => v,
            // The mapping is page-aligned and `len` a whole number of elements, so the cast does
            // not fail; an empty slice if it ever did.
            Store::File(r) => r
                .map
                .get(..r.len)
                .and_then(|b| bytemuck::try_cast_slice(b).ok())
                .unwrap_or(&[]),
        }
    }

    #[inline]
    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Store::Heap(v) => v,
            Store::File(r) => r
                .map
                .get_mut(..r.len)
                .and_then(|b| bytemuck::try_cast_slice_mut(b).ok())
                .unwrap_or_default(),
        }
    }

    /// Room for `extra` more elements. On the heap the vector grows by a quarter of its length (at
    /// least `min` elements), not doubled: a doubling buffer is up to half empty. In the file the
    /// region's populated part grows by steps; a region that is full, or whose pages cannot be
    /// populated (disk full), moves to the heap, whole.
    pub(crate) fn reserve(&mut self, extra: usize, min: usize) {
        match self {
            Store::Heap(v) => {
                if v.capacity() - v.len() < extra {
                    v.reserve_exact(extra.max(v.len() / 4).max(min));
                }
            }
            Store::File(r) => {
                let need = r.len + extra * Self::SIZE;
                if need <= r.populated {
                    return;
                }
                let upto = need.div_ceil(STEP).saturating_mul(STEP).min(r.map.len());
                let ok = need <= upto
                    && r.map
                        .advise_range(
                            memmap2::Advice::PopulateWrite,
                            r.populated,
                            upto - r.populated,
                        )
                        .is_ok();
                if ok {
                    r.populated = upto;
                } else {
                    let mut v = Vec::with_capacity(self.len() + extra.max(self.len() / 4).max(min));
                    v.extend_from_slice(self.as_slice());
                    *self = Store::Heap(v);
                }
            }
        }
    }

    pub(crate) fn push(&mut self, x: T, min: usize) {
        self.extend_from_slice(std::slice::from_ref(&x), min);
    }

    pub(crate) fn extend_from_slice(&mut self, xs: &[T], min: usize) {
        self.reserve(xs.len(), min);
        match self {
            Store::Heap(v) => v.extend_from_slice(xs),
            Store::File(r) => {
                let at = r.len;
                r.len += xs.len() * Self::SIZE;
                if let Some(dst) = r.map.get_mut(at..r.len) {
                    dst.copy_from_slice(bytemuck::cast_slice(xs));
                }
            }
        }
    }

    /// Grows to `n` elements with zeroes (the bytes of a region reused after a compaction are not
    /// zero any more: they are written, as a vector's would be).
    pub(crate) fn resize_zeroed(&mut self, n: usize, min: usize) {
        let len = self.len();
        if n <= len {
            return;
        }
        self.reserve(n - len, min);
        match self {
            Store::Heap(v) => v.resize(n, T::zeroed()),
            Store::File(r) => {
                let at = r.len;
                r.len = n * Self::SIZE;
                if let Some(dst) = r.map.get_mut(at..r.len) {
                    dst.fill(0);
                }
            }
        }
    }

    /// Makes the contents `n` zeroes, the old ones dropped (a rebuilt index): a fresh vector on the
    /// heap (not a reallocation that would copy the old one), the region's start in the file.
    pub(crate) fn reset_zeroed(&mut self, n: usize) {
        match self {
            Store::Heap(v) => *v = vec![T::zeroed(); n],
            Store::File(r) => {
                r.len = 0;
                self.resize_zeroed(n, n);
            }
        }
    }

    /// Empties the store, keeping its memory.
    pub(crate) fn clear(&mut self) {
        match self {
            Store::Heap(v) => v.clear(),
            Store::File(r) => r.len = 0,
        }
    }

    /// Replaces the contents with `v` (a compacted arena): in place in the file, `v` itself on the heap.
    pub(crate) fn replace(&mut self, v: Vec<T>, min: usize) {
        match self {
            Store::Heap(h) => *h = v,
            Store::File(r) => {
                r.len = 0;
                self.extend_from_slice(&v, min);
            }
        }
    }

    /// Whether the values are in the scratch file (not moved to the heap).
    #[cfg(test)]
    pub(crate) fn in_file(&self) -> bool {
        matches!(self, Store::File(_))
    }

    /// Bytes held: (on the heap, populated in the scratch file).
    pub(crate) fn bytes(&self) -> (usize, usize) {
        match self {
            Store::Heap(v) => (v.capacity() * Self::SIZE, 0),
            Store::File(r) => (0, r.populated),
        }
    }
}

/// The regions of a new scratch file `name` in `dir`: `K` regions of the given sizes (multiples of
/// the page size) for each of `n` owners (the states' shards: index, slots, spill arena). The file
/// is unlinked before this returns; its regions are its only handles.
pub(crate) fn regions<const K: usize>(
    dir: &Path,
    name: &str,
    n: usize,
    sizes: [usize; K],
) -> std::io::Result<Vec<[FileRegion; K]>> {
    let path = dir.join(name);
    let file = {
        let mut o = std::fs::OpenOptions::new();
        o.read(true).write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        o.open(&path)?
    };
    std::fs::remove_file(&path)?;
    let per = sizes.iter().sum::<usize>() as u64;
    file.set_len(per * n as u64)?;
    let map = |offset: u64, len: usize| -> std::io::Result<FileRegion> {
        // SAFETY: the file was created by this process (create_new) and unlinked at once: no other
        // process can open it, and this process writes it only through these mappings, each of a
        // distinct region owned by one shard. It is set to its full length before any mapping, so
        // no access falls beyond its end.
        #[allow(unsafe_code)] // see SAFETY above: mapping a file is unsafe by nature.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(len)
                .map_mut(&file)
        }?;
        Ok(FileRegion {
            map,
            len: 0,
            populated: 0,
        })
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let mut at = i * per;
        let mut v = Vec::with_capacity(K);
        for &size in &sizes {
            v.push(map(at, size)?);
            at += size as u64;
        }
        match v.try_into() {
            Ok(a) => out.push(a),
            Err(_) => return Err(std::io::Error::other("scratch regions")),
        }
    }
    Ok(out)
}
