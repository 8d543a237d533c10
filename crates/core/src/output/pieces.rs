//! Long end-of-run files (open debts, payment orders) formatted in parallel by pieces and written in
//! order (issue #13: they were built whole in memory on one core after the last window — 2.4 s and
//! 4.5 s of a national night, and ≈ 300 MiB of its peak).
//!
//! Architecture invariant: a piece is cut independently of the thread count — a fixed number of
//! items ([`PIECE`]: payment orders' payees; `debts.tsv`'s beneficiaries, each with its own number of
//! debt rows) — and pieces are written in their order, so the bytes do not depend on the thread
//! count; at most [`BATCH`] pieces are held in memory at once, whatever the length of the list.

use rayon::prelude::*;
use std::io::{self, Write};

/// Rows formatted by one task.
pub const PIECE: usize = 4096;
/// Pieces formatted side by side, then written, before the next ones are formatted (enough to keep a
/// few cores busy; a piece of payment orders is ≈ 3 MiB of text with its XML).
pub const BATCH: usize = 8;

/// Formats `items` by pieces of [`PIECE`] rows in parallel into `N` texts (`fmt` appends a piece's
/// rows to each of its `N` buffers; it is given the index of the piece's first row) and writes each
/// text to its writer, in order. An error names the writer it came from.
pub fn write_in_pieces<T: Sync, const N: usize>(
    out: &mut [&mut dyn Write; N],
    items: &[T],
    fmt: impl Fn(&mut [Vec<u8>; N], usize, &[T]) + Sync,
) -> Result<(), (usize, io::Error)> {
    let pieces: Vec<&[T]> = items.chunks(PIECE).collect();
    write_pieces(out, &pieces, |b, k, piece| fmt(b, k * PIECE, piece))
}

/// [`write_in_pieces`] on rows already cut into pieces (`fmt` is given the piece's index): for rows
/// held in blocks rather than one vector (`output::sepa::DueByPayee`).
///
/// The [`BATCH`] sets of buffers are kept from one batch to the next (cleared, not freed): a piece's
/// text is megabytes, and fresh buffers grew by doubling (copying the text each time) into fresh
/// pages (zeroed by the kernel, then unmapped when freed) for every piece (issue #13).
pub fn write_pieces<T: Sync, const N: usize>(
    out: &mut [&mut dyn Write; N],
    pieces: &[&[T]],
    fmt: impl Fn(&mut [Vec<u8>; N], usize, &[T]) + Sync,
) -> Result<(), (usize, io::Error)> {
    let mut texts: Vec<[Vec<u8>; N]> = Vec::new();
    for (k, batch) in pieces.chunks(BATCH).enumerate() {
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
        for t in &texts[..batch.len()] {
            for (i, (w, b)) in out.iter_mut().zip(t).enumerate() {
                w.write_all(b).map_err(|e| (i, e))?;
            }
        }
    }
    Ok(())
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
}
