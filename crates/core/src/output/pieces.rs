//! Long end-of-run files (open debts, payment orders) formatted in parallel by pieces and written in
//! order (issue #13: they were built whole in memory on one core after the last window — 2.4 s and
//! 4.5 s of a national night, and ≈ 300 MiB of its peak).
//!
//! Architecture invariant: a piece is cut independently of the thread count — a fixed number of
//! items ([`PIECE`]: payment orders' payees; `debts.tsv`'s beneficiaries, each with its own number of
//! debt rows) — and pieces are written in their order, so the bytes do not depend on the thread
//! count; at most two batches of [`BATCH`] pieces are held in memory at once (the one being written
//! and the next, being formatted), whatever the length of the list.

use super::files::write_all_vectored;
use rayon::prelude::*;
use std::io::{self, Write};
use std::sync::mpsc;

/// Rows formatted by one task.
pub const PIECE: usize = 4096;
/// Pieces formatted side by side in one batch (enough to keep a few cores busy; a piece of payment
/// orders is ≈ 3 MiB of text with its XML). Two batches are in memory at once: the one being
/// written and the next, being formatted.
pub const BATCH: usize = 4;

/// Formats `items` by pieces of [`PIECE`] rows in parallel into `N` texts (`fmt` appends a piece's
/// rows to each of its `N` buffers; it is given the index of the piece's first row) and writes each
/// text to its writer, in order. An error names the writer it came from.
pub fn write_in_pieces<T: Sync, const N: usize>(
    out: &mut [&mut (dyn Write + Send); N],
    items: &[T],
    fmt: impl Fn(&mut [Vec<u8>; N], usize, &[T]) + Sync,
) -> Result<(), (usize, io::Error)> {
    let pieces: Vec<&[T]> = items.chunks(PIECE).collect();
    write_pieces(out, &pieces, |b, k, piece| fmt(b, k * PIECE, piece))
}

/// The texts of one batch of pieces: `N` buffers a piece.
type Texts<const N: usize> = Vec<[Vec<u8>; N]>;

/// [`write_in_pieces`] on rows already cut into pieces (`fmt` is given the piece's index).
///
/// A batch's texts go to each writer in one vectored write ([`write_all_vectored`]: no copy into
/// the writer's buffer when they are larger than it). Batch k is written while batch k + 1 is
/// formatted: the writes run on a thread of their own (scoped to the call), the formatting on the
/// calling thread's pool, so that a write that waits for the disk (the end-of-run files are
/// `O_DIRECT`, `WriteBack::direct`) holds no worker while batch k + 1 is formatted, and the workers
/// format while it waits — but the hand-over of batch k + 1 waits until batch k is written, so when
/// the disk is slower than the formatting the formatting worker does wait, in `send` (review A12 L2;
/// no hang: the writer never waits for the pool) (issue
/// #13: at 2 threads the writes used to run on the calling worker, one side of a `rayon::join`,
/// and the tail's formatting waited for them). The writer thread never waits for the pool, so
/// nothing can hang at `--threads 1` (a channel between a formatting task and a writing *worker*
/// did: the pool's one worker blocked on the channel).
///
/// The two sets of [`BATCH`] buffers go back and forth between the two sides (cleared, not freed):
/// a piece's text is megabytes, and fresh buffers grew by doubling (copying the text each time)
/// into fresh pages (zeroed by the kernel, then unmapped when freed) for every piece (issue #13).
/// The thread's spawn failing is an error of the first writer.
pub fn write_pieces<T: Sync, const N: usize>(
    out: &mut [&mut (dyn Write + Send); N],
    pieces: &[&[T]],
    fmt: impl Fn(&mut [Vec<u8>; N], usize, &[T]) + Sync,
) -> Result<(), (usize, io::Error)> {
    let batches: Vec<&[&[T]]> = pieces.chunks(BATCH).collect();
    let format = |texts: &mut Texts<N>, k: usize, batch: &[&[T]]| {
        if texts.len() < batch.len() {
            texts.resize_with(batch.len(), || std::array::from_fn(|_| Vec::new()));
        }
        texts
            .par_iter_mut()
            .zip(batch.par_iter())
            .enumerate()
            .for_each(|(j, (b, piece))| {
                b.iter_mut().for_each(Vec::clear);
                fmt(b, k * BATCH + j, piece);
            });
    };
    std::thread::scope(|s| {
        // A rendezvous: a batch is handed over when the writer is done with the one before.
        let (to_writer, queued) = mpsc::sync_channel::<(Texts<N>, usize)>(0);
        let (back, spare) = mpsc::channel::<Texts<N>>();
        let writer = std::thread::Builder::new()
            .name("pieces-writer".into())
            .spawn_scoped(s, move || -> Result<(), (usize, io::Error)> {
                for (texts, n) in queued {
                    for (i, w) in out.iter_mut().enumerate() {
                        let parts = texts.iter().take(n).filter_map(|t| t.get(i));
                        write_all_vectored(&mut **w, parts.map(Vec::as_slice))
                            .map_err(|e| (i, e))?;
                    }
                    // The formatting side may be gone (it stops when a send fails).
                    let _ = back.send(texts);
                }
                if crate::timing_on() {
                    let (run, wait) = crate::thread_sched();
                    eprintln!(
                        "timing: tail: pieces writer: on a CPU {:.3} s, waiting for one {:.3} s",
                        run as f64 / 1e9,
                        wait as f64 / 1e9
                    );
                }
                Ok(())
            })
            .map_err(|e| (0, e))?;
        let mut sets: Vec<Texts<N>> = vec![Vec::new(), Vec::new()];
        for (k, batch) in batches.iter().enumerate() {
            let Some(mut texts) = sets.pop().or_else(|| spare.recv().ok()) else {
                break; // the writer stopped on an error: joined below
            };
            format(&mut texts, k, batch);
            if to_writer.send((texts, batch.len())).is_err() {
                break;
            }
        }
        drop(to_writer);
        match writer.join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows cross several pieces and batches: each text keeps the rows' order.
    #[test]
    fn pieces_are_written_in_row_order() {
        let rows: Vec<u32> = (0..(PIECE * BATCH * 2 + 17) as u32).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write_in_pieces(&mut [&mut a, &mut b], &rows, |t, first, piece| {
            assert_eq!(piece[0] as usize, first);
            for r in piece {
                t[0].extend_from_slice(format!("{r}\n").as_bytes());
                if r % 1000 == 0 {
                    t[1].extend_from_slice(format!("{r}\n").as_bytes());
                }
            }
        })
        .unwrap();
        let want: String = rows.iter().map(|r| format!("{r}\n")).collect();
        assert_eq!(String::from_utf8(a).unwrap(), want);
        let want: String = rows
            .iter()
            .filter(|r| *r % 1000 == 0)
            .map(|r| format!("{r}\n"))
            .collect();
        assert_eq!(String::from_utf8(b).unwrap(), want);
    }

    /// The writes of one batch overlap the formatting of the next without waiting on the pool from
    /// inside it: inside a pool of 1 thread (where a channel-based overlap hung) and of 2, many
    /// batches come out whole and in order.
    #[test]
    fn pieces_written_while_the_next_batch_is_formatted_finish_on_one_and_two_threads() {
        let rows: Vec<u32> = (0..(PIECE * BATCH * 5 + 3) as u32).collect();
        let want: String = rows.iter().map(|r| format!("{r}\n")).collect();
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut a = Vec::new();
            pool.install(|| {
                write_in_pieces(&mut [&mut a], &rows, |t, _, piece| {
                    for r in piece {
                        t[0].extend_from_slice(format!("{r}\n").as_bytes());
                    }
                })
            })
            .unwrap();
            assert_eq!(String::from_utf8(a).unwrap(), want, "{threads} threads");
        }
    }

    /// The writes run on a thread that is none of the pool's workers (a write waiting for the disk
    /// holds no worker), at 1 and 2 threads, and the texts still come out whole and in order.
    #[test]
    fn pieces_are_written_off_the_pools_workers() {
        struct OffPool(Vec<u8>, usize);
        impl Write for OffPool {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                if rayon::current_thread_index().is_some() {
                    self.1 += 1;
                }
                self.0.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let rows: Vec<u32> = (0..(PIECE * BATCH * 3 + 5) as u32).collect();
        let want: String = rows.iter().map(|r| format!("{r}\n")).collect();
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut w = OffPool(Vec::new(), 0);
            pool.install(|| {
                write_in_pieces(&mut [&mut w], &rows, |t, _, piece| {
                    for r in piece {
                        t[0].extend_from_slice(format!("{r}\n").as_bytes());
                    }
                })
            })
            .unwrap();
            assert_eq!(w.1, 0, "{threads} threads: a write ran on a worker");
            assert_eq!(String::from_utf8(w.0).unwrap(), want, "{threads} threads");
        }
    }

    /// A write error stops the writing and names its writer; the batches after it are not written.
    #[test]
    fn a_write_error_names_its_writer() {
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                if self.0 < b.len() {
                    return Err(io::Error::other("disk full"));
                }
                self.0 -= b.len();
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let rows: Vec<u32> = (0..(PIECE * BATCH * 3) as u32).collect();
        let (mut ok, mut full) = (Vec::new(), Full(1000));
        let e = write_in_pieces(&mut [&mut ok, &mut full], &rows, |t, _, piece| {
            for r in piece {
                t[0].extend_from_slice(b"x");
                t[1].extend_from_slice(format!("{r}\n").as_bytes());
            }
        })
        .unwrap_err();
        assert_eq!(e.0, 1);
        // The first batch's texts of the first writer were written, then the second writer failed.
        assert_eq!(ok.len(), PIECE * BATCH);
    }
}
