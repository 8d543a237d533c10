//! `recoveries.tsv` (one row per debt recovery, in file order) and `debts.tsv` (the debts of the
//! insured still open at the end of the night, with their age): the visible side of `rules::debt`.
//! Layouts: formats/outputs.md. A sequential sink: recoveries are rare (a claim paid to the insured
//! whose beneficiary owes an earlier third-party participation).

use super::files::create_private;
use super::fmt::{self, Out};
use super::pieces::write_in_pieces;
use super::rows;
use super::writeback::WriteBack;
use crate::engine::BatchInfo;
use crate::rules::Outcome;
use crate::rules::debt::Debt;
use crate::sink::{Event, Sink, SinkError};
use crate::states::States;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub const RECOVERIES: &str = "recoveries.tsv";

/// Debtors read side by side when `debts.tsv` is written (see `DebtSink::finish_with`): enough
/// independent loads to keep the core's outstanding misses busy, few enough that a block's slots
/// and records are still in the first-level cache when they are decoded.
const READ_BLOCK: usize = 64;
pub const DEBTS: &str = "debts.tsv";

pub const RECOVERIES_HEADER: &str = "claim\tline\tinput_line\tbyte_offset\tbeneficiary\tpractitioner\tdate_of_care\tamount\tdebt_kind\tdebt_claim\tdebt_line\tdebt_practitioner\tdebt_date_of_care\tdebt_created\tdebt_age_days\tdebt_amount\tdebt_open_after\n";
pub const DEBTS_HEADER: &str = "beneficiary\tkind\tclaim\tline\tpractitioner\tdate_of_care\tcreated\tage_days\tamount\trecovered\topen\n";

/// Writes `recoveries.tsv` as the windows come and `debts.tsv` at the end.
pub struct DebtSink {
    dir: PathBuf,
    recoveries: BufWriter<WriteBack>,
    /// The budget of `debts.tsv`'s direct buffer, written at the end: for [`Sink::held_bytes`].
    tail: Option<std::sync::Arc<crate::output::writeback::DirectBudget>>,
    /// A window's rows, the vector kept from one window to the next: a new one grew by doubling, its
    /// rows copied at each step (an 8 MiB window of national night 2 through the ledger has ≈ 1 900
    /// recoveries, ≈ 360 KiB of rows: issue #14).
    rows: Vec<u8>,
}

impl DebtSink {
    pub fn create(dir: &Path) -> Result<DebtSink, SinkError> {
        let path = dir.join(RECOVERIES);
        let f = create_private(&path).map_err(|e| SinkError::Io(path.clone(), e))?;
        let mut recoveries = BufWriter::new(WriteBack::new(f));
        recoveries
            .write_all(RECOVERIES_HEADER.as_bytes())
            .map_err(|e| SinkError::Io(path, e))?;
        Ok(DebtSink {
            dir: dir.to_path_buf(),
            recoveries,
            tail: None,
            rows: Vec::new(),
        })
    }
}

/// The rows of `recoveries.tsv` for `events`, appended to `out`. Each row is written in place into
/// a fixed array by `rows::recovery_row` and copied whole (a night 2 through the ledger recovers
/// 2.8 × the debts of a night without it: issue #14); a row that does not fit it is written again
/// straight into `out` by the reference writer [`recovery_row`], so the bytes never depend on the
/// array (test `recovery_rows_in_place_are_the_reference_writers_text`).
pub fn format_recoveries(out: &mut Vec<u8>, events: &[Event<'_>]) {
    let mut row = [0u8; rows::ROW];
    for e in events {
        let Event::Claim(c) = e else { continue };
        let (Outcome::Paid(p), Some(h)) = (c.outcome, c.header) else {
            continue;
        };
        for r in &p.recoveries {
            let Some(l) = p.lines.get(r.line as usize) else {
                continue;
            };
            let pos = c
                .line_pos
                .get(l.index as usize)
                .copied()
                .unwrap_or(c.claim.pos);
            match rows::recovery_row(&mut row, h, l, pos, r) {
                Some(b) => out.extend_from_slice(b),
                None => recovery_row(out, h, l, pos, r),
            }
        }
    }
}

/// One row of `recoveries.tsv`, its line break included: the reference text (the byte formatters of
/// the `writeln!` they replaced: `{:09}`, `{}-{:03}`, dates `{:04}-{:02}-{:02}`; issue #13).
fn recovery_row(
    out: &mut Vec<u8>,
    h: &crate::claims::ClaimHeader,
    l: &crate::rules::LineResult,
    pos: crate::claims::Pos,
    r: &crate::rules::debt::Recovery,
) {
    fmt::at_least(out, h.claim_no as u64, 9);
    fmt::tab(out);
    fmt::u64_(out, l.line_no as u64);
    fmt::tab(out);
    fmt::u64_(out, pos.line);
    fmt::tab(out);
    fmt::u64_(out, pos.offset);
    fmt::tab(out);
    out.extend_from_slice(String::from_utf8_lossy(&h.nir).as_bytes());
    out.push(b'-');
    fmt::at_least(out, h.rank as u64, 3);
    fmt::tab(out);
    fmt::at_least(out, h.practitioner as u64, 9);
    fmt::tab(out);
    date_text(out, l.date);
    fmt::tab(out);
    fmt::euros(out, r.amount);
    fmt::tab(out);
    out.put(r.debt.kind.as_str().as_bytes());
    fmt::tab(out);
    fmt::at_least(out, r.debt.claim as u64, 9);
    fmt::tab(out);
    fmt::u64_(out, r.debt.line as u64);
    fmt::tab(out);
    fmt::at_least(out, r.debt.practitioner as u64, 9);
    fmt::tab(out);
    date_text(out, r.debt.date_of_care);
    fmt::tab(out);
    date_text(out, r.debt.created);
    fmt::tab(out);
    fmt::i64_(out, r.age_days);
    fmt::tab(out);
    fmt::euros(out, r.debt_amount);
    fmt::tab(out);
    fmt::euros(out, r.open_after);
    out.push(b'\n');
}

/// A date as its `Display` text (`{:04}-{:02}-{:02}`: a year is never cut).
fn date_text(out: &mut Vec<u8>, d: crate::date::Date) {
    fmt::at_least(out, d.year() as u64, 4);
    out.push(b'-');
    fmt::at_least(out, d.month() as u64, 2);
    out.push(b'-');
    fmt::at_least(out, d.day() as u64, 2);
}

/// The rows of `debts.tsv` for the beneficiaries' debt lists `with_debts` (by ascending key, each
/// one's debts oldest first: `States::with_debts`), aged on `on` (formatted without `core::fmt`: a
/// national night has millions of them). Each row is written in place into a fixed array by
/// `rows::debt_row` (fixed-size stores, integers converted in a register; the beneficiary's text
/// once for all its debts, the age's day count once per creation date — a night's debts share
/// it) and copied whole; a row that does not fit it is written again straight into `out` by the
/// reference writer [`debt_row`], so the bytes never depend on the array (test
/// `debt_rows_in_place_are_the_reference_writers_text`).
fn debt_rows(out: &mut Vec<u8>, with_debts: &[(u64, &[Debt])], on: crate::date::Date) {
    let mut row = [0u8; rows::ROW];
    let on_days = on.to_days();
    let mut created: Option<(crate::date::Date, i64)> = None;
    for (key, debts) in with_debts {
        let ben = rows::benef_text(*key);
        for d in *debts {
            let c = d.origin.created;
            let days = match created {
                Some((k, n)) if k == c => n,
                _ => {
                    let n = c.to_days();
                    created = Some((c, n));
                    n
                }
            };
            // `Debt::age_days`, its day counts kept
            let age = on_days - days;
            match ben
                .as_ref()
                .and_then(|b| rows::debt_row(&mut row, b, d, age))
            {
                Some(b) => out.extend_from_slice(b),
                None => debt_row(out, *key, d, on),
            }
        }
    }
}

/// One row of `debts.tsv`, its line break included.
#[inline(always)]
fn debt_row<O: fmt::Out + ?Sized>(out: &mut O, key: u64, d: &Debt, on: crate::date::Date) {
    let o = &d.origin;
    fmt::benef(out, key);
    fmt::tab(out);
    out.put(o.kind.as_str().as_bytes());
    fmt::tab(out);
    fmt::at_least(out, o.claim as u64, 9);
    fmt::tab(out);
    fmt::u64_(out, o.line as u64);
    fmt::tab(out);
    fmt::at_least(out, o.practitioner as u64, 9);
    fmt::tab(out);
    fmt::date(out, o.date_of_care);
    fmt::tab(out);
    fmt::date(out, o.created);
    fmt::tab(out);
    fmt::i64_(out, d.age_days(on));
    fmt::tab(out);
    fmt::euros(out, d.amount);
    fmt::tab(out);
    fmt::euros(out, d.amount - d.open);
    fmt::tab(out);
    fmt::euros(out, d.open);
    out.push(b'\n');
}

impl Sink for DebtSink {
    /// `recoveries.tsv` goes through a `BufWriter` (8 KiB, not counted) from the window's rows (kept
    /// for the next window); once finished, `debts.tsv`'s direct buffer at its most (up to
    /// `writeback::LARGE_DIRECT_BYTES`).
    fn held_bytes(&self) -> usize {
        self.rows.capacity() + self.tail.as_ref().map_or(0, |b| b.held())
    }

    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        let mut b = std::mem::take(&mut self.rows);
        b.clear();
        format_recoveries(&mut b, events);
        let written = self.recoveries.write_all(&b);
        self.rows = b;
        written.map_err(|e| SinkError::Io(self.dir.join(RECOVERIES), e))
    }

    /// Without the states: no open debt is known, `debts.tsv` has its header only.
    /// The open debts are read from the final states, which only [`Sink::finish_with`] is given:
    /// finishing without them would write a `debts.tsv` that disagrees with the summary's
    /// `open_debts`, so it is an error, never an empty list.
    fn finish(&mut self, batch: &BatchInfo) -> Result<(), SinkError> {
        if batch.open_debts == 0 {
            return self.finish_with(batch, &States::new());
        }
        Err(SinkError::Other(format!(
            "{DEBTS}: the open debts are listed from the final states (Sink::finish_with), not given to finish"
        )))
    }

    fn finish_with(&mut self, batch: &BatchInfo, states: &States) -> Result<(), SinkError> {
        // Each file made durable as soon as it is whole, here, beside the other sinks' end-of-run
        // work rather than after it (`Staging::sync` then finds clean pages; issue #13).
        self.recoveries
            .flush()
            .and_then(|()| self.recoveries.get_ref().sync_all())
            .map_err(|e| SinkError::Io(self.dir.join(RECOVERIES), e))?;
        // Read from the final states by beneficiary (no copy of the debts), formatted in parallel by
        // pieces of beneficiaries and written as they come (`output::pieces`).
        let on = batch.header.map(|h| h.date).unwrap_or_default();
        let t = std::time::Instant::now();
        // The debtors as places in the shards (8 bytes each, `States::debtors`), not references.
        let debtors = states.debtors();
        crate::engine::tail_step("debts: states with debts listed", t);
        let t = std::time::Instant::now();
        let path = self.dir.join(DEBTS);
        let f = create_private(&path).map_err(|e| SinkError::Io(path.clone(), e))?;
        // O_DIRECT: written by a thread of its own (`output::pieces`), which waits for the disk
        // while the workers format; made durable by `WriteBack::finish`.
        // Written in writes of up to 2 MiB (`WriteBack::direct_large`: fewer calls, less CPU).
        let mut w = WriteBack::direct_large(f);
        self.tail = w.budget();
        w.write_all(DEBTS_HEADER.as_bytes())
            .map_err(|e| SinkError::Io(path.clone(), e))?;
        let unreadable = std::sync::OnceLock::new();
        write_in_pieces(&mut [&mut w], debtors.places(), |b, _, piece| {
            // Sorted by key, the states lie at random places (a slot in one of 256 shards, most
            // records with debts in its spill arena): read one after the other inside the
            // decoding, each debtor was two dependent cache misses the core stalled on — slot, then
            // record — 55 % of the national tail's cpu-clock samples (`Debtors::at` 36 %,
            // `packed::at_debts` 19 %: perf, issue #13). So each block of [`READ_BLOCK`] debtors is
            // read in stages: every slot in a loop of independent loads (their misses overlap),
            // then both ends of every record (the arena's misses overlap), then the records are
            // decoded from the cache. Each state's debts are read from its packed form
            // (`states::packed`), the piece's into one vector.
            let mut debts: Vec<Debt> = Vec::new();
            let mut ends: Vec<(u64, usize)> = Vec::with_capacity(piece.len());
            let mut records: Vec<(u64, &[u8])> = Vec::with_capacity(READ_BLOCK);
            for block in piece.chunks(READ_BLOCK) {
                records.clear();
                records.extend(block.iter().map(|&place| debtors.at(place)));
                let mut touch = 0u8;
                for (_, s) in &records {
                    touch ^= s.first().copied().unwrap_or(0) ^ s.last().copied().unwrap_or(0);
                }
                std::hint::black_box(touch);
                for &(k, s) in &records {
                    if let Err(e) = crate::states::packed::open_debts(s, &mut debts) {
                        // never listed as having no debt: the sink fails (the engine's totals read
                        // every state with debts before the sinks finish, so this is not reached)
                        let _ = unreadable.set(e.0);
                    }
                    ends.push((k, debts.len()));
                }
            }
            let mut from = 0;
            let lists: Vec<(u64, &[Debt])> = ends
                .iter()
                .map(|&(k, to)| {
                    let d = debts.get(from..to).unwrap_or_default();
                    from = to;
                    (k, d)
                })
                .collect();
            debt_rows(&mut b[0], &lists, on)
        })
        .map_err(|(_, e)| SinkError::Io(path.clone(), e))?;
        crate::engine::tail_step("debts: formatted and written", t);
        if let Some(e) = unreadable.get() {
            return Err(SinkError::Other(format!(
                "{DEBTS}: ledger corrupt: a beneficiary state does not read: {e}"
            )));
        }
        w.finish().map_err(|e| SinkError::Io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::Date;
    use crate::rules::debt::{DebtKind, DebtOrigin};

    use crate::testing::Rng;

    /// A debt's origin of random numbers, its two dates from `pick` (the fields drawn in their
    /// order: created, practitioner, claim, line, date of care, kind).
    fn random_origin(rng: &mut Rng, pick: impl Fn(&mut Rng) -> Date) -> DebtOrigin {
        DebtOrigin {
            created: pick(rng),
            practitioner: rng.width(32) as u32,
            claim: rng.width(32) as u32,
            line: rng.width(16) as u16,
            date_of_care: pick(rng),
            kind: if rng.next().is_multiple_of(2) {
                DebtKind::Participation
            } else {
                DebtKind::Franchise
            },
        }
    }

    /// The rows written in place (`rows::debt_row`, with the beneficiary's text, the age's day
    /// counts kept) are the reference writer's bytes: keys of every shape (Corsican NIRs, ranks
    /// up to 1 023, NIR numbers past 13 digits), claim and practitioner numbers of every digit
    /// count up to `u32::MAX`, dates real and not (year 0, 5 digits, day 99), ages of either sign,
    /// amounts of every width; and debts sharing creation dates as a night's do.
    #[test]
    fn debt_rows_in_place_are_the_reference_writers_text() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let dates = [
            Date(20260316),
            Date(20251231),
            Date(20240229),
            Date(0),
            Date(99999999),
            Date(u32::MAX),
            Date(123450199),
        ];
        let mut keys = Vec::new();
        let mut lists: Vec<Vec<Debt>> = Vec::new();
        for i in 0..20_000u64 {
            let n = match i % 5 {
                0 => rng.width(47),
                _ => rng.next() % 10_000_000_000_000,
            };
            let key = (n << 12) | ((rng.next() % 4) << 10) | (rng.next() % 1024);
            let debts = (0..1 + rng.next() % 3)
                .map(|_| {
                    let amount = 1 + rng.width(40) as i64;
                    let open = 1 + (rng.next() as i64 & i64::MAX) % amount;
                    let pick = |r: &mut Rng| {
                        if r.next().is_multiple_of(3) {
                            Date(r.next() as u32)
                        } else {
                            dates[(r.next() % dates.len() as u64) as usize]
                        }
                    };
                    Debt {
                        origin: random_origin(&mut rng, pick),
                        amount,
                        open,
                    }
                })
                .collect();
            keys.push(key);
            lists.push(debts);
        }
        let with: Vec<(u64, &[Debt])> = keys
            .iter()
            .zip(&lists)
            .map(|(k, l)| (*k, l.as_slice()))
            .collect();
        // A real key's rows go the fast way (else the comparison below would test the reference
        // against itself).
        let mut row = [0u8; rows::ROW];
        let key = crate::refs::benef_key(b"1850578006084", 1).unwrap();
        let ben = rows::benef_text(key).unwrap();
        let d = lists[1][0];
        let mut want = Vec::new();
        debt_row(&mut want, key, &d, Date(20260316));
        let age = d.age_days(Date(20260316));
        assert_eq!(rows::debt_row(&mut row, &ben, &d, age), Some(&want[..]));
        for on in [Date(20260316), Date(0), Date(u32::MAX)] {
            let mut fast = Vec::new();
            debt_rows(&mut fast, &with, on);
            let mut want = Vec::new();
            for (k, l) in &with {
                for d in *l {
                    debt_row(&mut want, *k, d, on);
                }
            }
            assert!(fast == want, "rows differ on {on:?}");
        }
    }

    /// The recovery rows written in place (`rows::recovery_row`) are the reference writer's bytes,
    /// or the fast path declines them (`None`) and the reference writes them: claim numbers and
    /// ranks of every width, NIRs ASCII and not (the reference's `from_utf8_lossy`), dates real and
    /// not (year 0, 5 digits, day 99, any `u32`), ages and amounts of either sign and every width.
    #[test]
    fn recovery_rows_in_place_are_the_reference_writers_text() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let dates = [
            Date(20260316),
            Date(20251231),
            Date(20240229),
            Date(0),
            Date(99991231),
            Date(100000101),
            Date(u32::MAX),
        ];
        let pick = |r: &mut Rng| {
            if r.next().is_multiple_of(8) {
                Date(r.next() as u32)
            } else {
                dates[(r.next() % dates.len() as u64) as usize]
            }
        };
        let cents = |r: &mut Rng| {
            let c = r.width(40) as i64;
            if r.next().is_multiple_of(4) { -c } else { c }
        };
        let mut row = [0u8; rows::ROW];
        let (mut fast, mut total) = (0, 0);
        for i in 0..50_000u32 {
            let mut nir = *b"1850578006084";
            if i % 7 == 0 {
                nir[(rng.next() % 13) as usize] = rng.next() as u8;
            }
            let h = crate::claims::ClaimHeader {
                claim_no: rng.width(32) as u32,
                practitioner: rng.width(32) as u32,
                nir,
                nir_key: *b"12",
                rank: rng.width(11) as u16,
                birth: Date(19850501),
                birth_rank: 1,
                nature: b'1',
                exemption: b'0',
                pathway: b'0',
                tp_amo: true,
                tp_amc: false,
                amc: *b"          ",
                contract: *b"01",
                at_ref: *b"         ",
            };
            let l = crate::rules::LineResult {
                line_no: rng.width(16) as u16,
                date: pick(&mut rng),
                ..Default::default()
            };
            let pos = crate::claims::Pos {
                line: rng.width(64),
                offset: rng.width(64),
            };
            let r = crate::rules::debt::Recovery {
                line: 0,
                debt: random_origin(&mut rng, pick),
                debt_amount: cents(&mut rng),
                amount: cents(&mut rng),
                open_after: cents(&mut rng),
                age_days: rng.width(63) as i64 * if rng.next().is_multiple_of(2) { 1 } else { -1 },
            };
            let mut want = Vec::new();
            recovery_row(&mut want, &h, &l, pos, &r);
            total += 1;
            if let Some(b) = rows::recovery_row(&mut row, &h, &l, pos, &r) {
                fast += 1;
                assert!(
                    b == &want[..],
                    "{:?} against {:?}",
                    String::from_utf8_lossy(b),
                    String::from_utf8_lossy(&want)
                );
            }
        }
        // both ways taken, enough rows the fast one for the comparison to mean something
        assert!(
            fast * 10 > total && fast < total,
            "{fast} of {total} in place"
        );
    }
}
