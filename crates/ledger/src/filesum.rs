//! The batch file's checksum ([`crate::checksum`]: xxh3-64 of the whole file) built from the pieces
//! the engine reads, in file order, instead of a second pass over the file.
//!
//! A national night's file is 2.8 GB: hashed by a thread of its own beside the liquidation, every
//! line was read again from memory (the file's pages long out of the caches), and the hash stalled on
//! each 64-byte stripe — 0.45 s of CPU on a quiet machine, 2.2 s at load 5 (`perf` of national night
//! 2: 88 % of the loop's samples on its first load). The engine hands each window to the ledger as it
//! parses it (`Carry::window_read`); since LEDGER23 in pieces, its 256 KiB sub-chunks, each right
//! after its parse by the worker that parsed it: a whole 8 MiB window hashed beside its parse was
//! still read from memory (national night 1, `perf` 999 Hz: 536–588 samples in the AVX2 loop, the
//! images' checksums included, against 270–280 so), and 2.8 GB hashed in 256 KiB pieces from the
//! cache take 0.13–0.14 s against 0.42–0.52 s streamed from memory.
//! The streaming hash gives exactly the one-shot value, so the recorded checksum is the same.

use std::sync::Mutex;

/// The hash of the file's first `next` bytes, or nothing usable: a piece that did not start where
/// the last one ended (the answer is then `None`, and the caller hashes the file whole).
pub struct FileSum {
    state: Mutex<Option<(usize, crate::xxh3::Hasher)>>,
}

impl Default for FileSum {
    fn default() -> Self {
        FileSum {
            state: Mutex::new(Some((0, crate::xxh3::Hasher::new()))),
        }
    }
}

impl FileSum {
    /// Adds the file's bytes `[at, at + bytes.len())`: they must follow what was added before.
    pub fn add(&self, at: usize, bytes: &[u8]) {
        let Ok(mut g) = self.state.lock() else {
            return;
        };
        match g.as_mut() {
            Some((next, h)) if *next == at => {
                h.update(bytes);
                *next += bytes.len();
            }
            _ => *g = None,
        }
    }

    /// The checksum of `data` ([`crate::checksum`]): from the pieces added if they were exactly
    /// `data`'s bytes in order (`true`), else hashed whole now (`false`).
    pub fn checksum(&self, data: &[u8]) -> (String, bool) {
        let whole = self.state.lock().ok().and_then(|g| {
            g.as_ref()
                .filter(|(next, _)| *next == data.len())
                .map(|(_, h)| h.digest())
        });
        match whole {
            Some(d) => (format!("{d:016x}"), true),
            None => (crate::checksum(data), false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Vec<u8> {
        // long enough for xxh3's long-input path (> 240 bytes) and several of its 1 KiB blocks
        (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect()
    }

    #[test]
    fn pieces_added_in_file_order_give_the_checksum_of_the_whole_file() {
        let d = data();
        for cuts in [
            vec![0, d.len()],
            vec![0, 1, 240, 241, 5000, 65_536, d.len()],
            vec![0, 0, 99_999, d.len()],
        ] {
            let s = FileSum::default();
            for w in cuts.windows(2) {
                s.add(w[0], &d[w[0]..w[1]]);
            }
            assert_eq!(s.checksum(&d), (crate::checksum(&d), true), "{cuts:?}");
        }
    }

    #[test]
    fn a_gap_a_repeat_or_a_short_read_falls_back_to_hashing_the_file_whole() {
        let d = data();
        let whole = (crate::checksum(&d), false);
        // a gap
        let s = FileSum::default();
        s.add(0, &d[..10]);
        s.add(20, &d[20..]);
        assert_eq!(s.checksum(&d), whole);
        // a piece read twice
        let s = FileSum::default();
        s.add(0, &d[..10]);
        s.add(0, &d[..10]);
        s.add(10, &d[10..]);
        assert_eq!(s.checksum(&d), whole);
        // the file not read to its end
        let s = FileSum::default();
        s.add(0, &d[..d.len() - 1]);
        assert_eq!(s.checksum(&d), whole);
        // nothing read
        assert_eq!(FileSum::default().checksum(&d), whole);
    }
}
