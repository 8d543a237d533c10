//! The typed entry point: liquidate claims that were **already read** — decoded from a columnar
//! batch (`liquidator-columnar`, a Spark task) rather than from a B2 file — with the engine's rules,
//! its per-beneficiary state and its outcomes, handed to the same [`Sink`]s.
//!
//! The engine ([`crate::engine::process`]) reads a whole file; a [`Session`] receives the parsed
//! claims of one batch a slice at a time, in file order, and keeps the running state of every
//! beneficiary it has seen between calls (participation and franchise caps, daily counters, sessions
//! across claims) exactly as an engine shard does. Claims of different beneficiaries never share
//! state, so any split of a batch **by beneficiary** into sessions, each fed in file order, gives the
//! same outcome for every claim as one run over the file (`formats/claims-arrow.md`, "Order").
//!
//! One fact is not per beneficiary: a duplicate transmission (`R030`, same practitioner and claim
//! number read earlier in the batch, whatever the beneficiary). It is decided by whoever reads the
//! whole batch — [`read_file`], with the engine's own bookkeeping — and given to
//! [`Session::liquidate`] as a flag per claim.
//!
//! Architecture invariant: no rule is re-implemented here: claims go through `rules::liquidate_in`
//! and, when they never reach the rules, through the engine's `read_rejection`; events are gathered
//! by the engine's `gather`.

use crate::claims::reader::{Chunk, Pos};
use crate::claims::record::BatchHeader;
use crate::engine::{self, BatchInfo, Dup, RunError, RunState, SHARDS, ShardOut};
use crate::refs::benef_key;
use crate::rules::{self, ClaimInput, Ctx, Trace};
use crate::sink::{Sink, SinkError};
use crate::states::{States, shard_of};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The claims are not in file order (or repeat a position already liquidated).
    #[error("claims not in file order: byte {offset} (line {line}) comes after byte {after}")]
    Order { offset: u64, line: u64, after: u64 },
    /// The chunk does not hold together (a claim's lines outside the chunk, flags missing).
    #[error("inconsistent claims: {0}")]
    Shape(String),
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// A beneficiary's state (seeded, or given by the context's `Carry`) does not read: as the
    /// engine's `RunError::State`, the batch stops rather than start that beneficiary empty.
    #[error("ledger corrupt: the state of the beneficiary of the claim at line {line}: {error}")]
    State {
        line: u64,
        error: crate::states::packed::DecodeError,
    },
    /// A state that does not read when the debts are totalled (as the engine's `RunError::States`).
    #[error("ledger corrupt: {0}")]
    States(crate::states::packed::DecodeError),
}

/// The running state of the beneficiaries of one batch seen so far (see the module documentation).
#[derive(Default)]
pub struct Session {
    states: States,
    /// Debts of the insured carried in by seeded states ([`Session::with_states`]), summed wide
    /// as the engine's (`ShardOut::opening_debts`).
    opening_debts: i128,
    /// Byte offset of the last claim or orphan record liquidated: positions must increase.
    last: Option<u64>,
    /// What the chunks given held, counted from their claims and orphan records as they come in
    /// ([`Session::batch_info`]'s `header_records`, `act_records`, `fee_total`: the summary's
    /// `input` identity). A session's chunks may be rebuilt from columns (`liquidator-columnar`),
    /// without the reader's own counts, so they are counted from what each chunk holds: claims,
    /// their act records and fees, and the orphan records — what the events must add up to.
    input: (u64, u64, i64),
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// A session whose beneficiaries start from `states` (as [`engine::process_in`]).
    pub fn with_states(states: States) -> Result<Session, SessionError> {
        Ok(Session {
            opening_debts: states.open_debt_cents().map_err(SessionError::States)? as i128,
            states,
            ..Session::default()
        })
    }

    /// Beneficiaries whose state this session holds.
    pub fn beneficiaries(&self) -> usize {
        self.states.len()
    }

    /// What `engine::process_in` reports of a batch's state once it is liquidated (the debts open at
    /// the end, the debts carried in), for the batch `header`: the `BatchInfo` that
    /// `Summary::with_batch` reads. The framing counts are not known here (0).
    pub fn batch_info(&self, header: BatchHeader) -> Result<BatchInfo, SessionError> {
        let (open_debts, open_debts_cents) = self
            .states
            .open_debt_totals()
            .map_err(SessionError::States)?;
        let debts_opening_cents = i64::try_from(self.opening_debts).map_err(|_| {
            SessionError::States(crate::states::packed::DecodeError(
                "opening debts total beyond i64",
            ))
        })?;
        let (header_records, act_records, fee_total) = self.input;
        Ok(BatchInfo {
            header: Some(header),
            open_debts,
            open_debts_cents,
            debts_opening_cents,
            header_records,
            act_records,
            fee_total,
            ..BatchInfo::default()
        })
    }

    /// The beneficiaries' states (to carry them to another run, as `engine::process_in` allows).
    pub fn into_states(self) -> States {
        self.states
    }

    /// Liquidates the claims of `chunk` (and reports its records outside claims) in file order,
    /// handing the events to `sink` in one [`Sink::window`] call. `duplicate[k]` says whether claim
    /// `k` repeats a (practitioner, claim number) read earlier in the batch (the engine's `R030`).
    ///
    /// `ctx` must be the same batch (batch date) for every call on a session. Claims and orphan
    /// records must come in increasing byte offset, across calls too: a claim of a beneficiary
    /// liquidated before an earlier one of the same beneficiary would see the wrong caps.
    pub fn liquidate(
        &mut self,
        ctx: &Ctx,
        chunk: &Chunk,
        duplicate: &[bool],
        sink: &mut dyn Sink,
    ) -> Result<(), SessionError> {
        let n = chunk.claims.len();
        if duplicate.len() != n {
            return Err(SessionError::Shape(format!(
                "{} duplicate flags for {n} claims",
                duplicate.len()
            )));
        }
        self.check_order(chunk)?;
        for c in &chunk.claims {
            self.input.0 += 1;
            self.input.1 += u64::from(c.act_records);
            self.input.2 += c.billed;
        }
        for o in &chunk.orphans {
            self.input.1 += u64::from(o.is_act);
            self.input.2 += o.fee;
        }
        let mut out = ShardOut::default();
        let mut loc: Vec<(u16, u32)> = vec![(SHARDS as u16, 0); n];
        for (k, c) in chunk.claims.iter().enumerate() {
            let (a, b) = (c.lines.start as usize, c.lines.end as usize);
            let (Some(lines), Some(line_pos)) = (chunk.lines.get(a..b), chunk.line_pos.get(a..b))
            else {
                return Err(SessionError::Shape(format!(
                    "claim at byte {}: lines {a}..{b} outside the chunk",
                    c.pos.offset
                )));
            };
            // The engine's routing (`engine::route`): a readable, error-free, first transmission
            // goes to the rules with its beneficiary's state; anything else is rejected at read.
            if let (Some(h), None, false) = (c.header.as_ref(), c.error, duplicate[k]) {
                let input = ClaimInput {
                    header: h,
                    lines,
                    line_pos,
                    pos: c.pos,
                    benef_at: None,
                    benef_key: None,
                };
                let key = benef_key(&h.nir, h.rank).unwrap_or(0);
                let Some(shard) = self.states.shards_mut().get_mut(shard_of(key)) else {
                    return Err(SessionError::Shape(format!("no shard for key {key}")));
                };
                // As `engine::liquidate_shards`: a first claim takes its state from an earlier
                // night when the context carries one (a ledger), else starts empty.
                let opening = &mut self.opening_debts;
                let o = shard
                    .with_state(key, ctx.carry, ctx.time_limit().1, |state, new, restore| {
                        if new {
                            *opening += state.open_debt_cents() as i128;
                        }
                        let o = rules::liquidate_in_place(
                            ctx,
                            &input,
                            state,
                            restore,
                            &mut Trace(None),
                        );
                        // A rejected claim leaves the state as it was (`rules::liquidate`).
                        let paid = matches!(o, rules::Outcome::Paid(_));
                        (o, paid)
                    })
                    .map_err(|error| SessionError::State {
                        line: c.pos.line,
                        error,
                    })?;
                loc[k] = (0, out.outcomes.len() as u32);
                out.outcomes.push((o, None));
            }
        }
        let chunks = std::slice::from_ref(chunk);
        let items: Vec<engine::Item> = (0..n as u32).map(|k| (0, k)).collect();
        let dup: Vec<Dup> = duplicate
            .iter()
            .map(|&d| if d { Dup::InBatch } else { Dup::No })
            .collect();
        let read_rejected = engine::reject_at_read(chunks, &items, &dup, &mut loc);
        let events = engine::gather(chunks, &loc, std::slice::from_ref(&out), &read_rejected);
        sink.window(&events)?;
        Ok(())
    }

    /// Claims in increasing offset, each after the previous call's; orphans likewise among themselves
    /// (`gather` merges the two lists by position).
    fn check_order(&mut self, chunk: &Chunk) -> Result<(), SessionError> {
        let after = self.last;
        let check = |p: Pos, prev: &mut Option<u64>| match *prev {
            Some(a) if p.offset <= a => Err(SessionError::Order {
                offset: p.offset,
                line: p.line,
                after: a,
            }),
            _ => {
                *prev = Some(p.offset);
                Ok(())
            }
        };
        let (mut claims, mut orphans) = (after, after);
        for c in &chunk.claims {
            check(c.pos, &mut claims)?;
        }
        for o in &chunk.orphans {
            check(o.pos, &mut orphans)?;
        }
        self.last = claims.max(orphans);
        Ok(())
    }
}

/// Reads a whole claims file into parsed claims without liquidating them: the engine's windows,
/// parser, framing and duplicate bookkeeping, then its batch checks. `each` receives every window's
/// chunks (in file order) with one duplicate flag per claim (chunk after chunk). Needs no reference
/// set. A batch the engine would refuse is refused the same way (`RunError::Batch`, exit 4), after
/// `each` has seen its windows: callers write into a staging area they discard on error.
pub fn read_file(
    data: &[u8],
    window: usize,
    mut each: impl FnMut(&[Chunk], &[bool]) -> Result<(), SinkError>,
) -> Result<BatchInfo, RunError> {
    let (header, mut start) = engine::batch_header(data)?;
    let mut run = RunState::new(header, 0);
    run.expect_file(data.len());
    let mut pool: Vec<Chunk> = Vec::new();
    while start < data.len() {
        let end = engine::window_end(data, start, window);
        let n = engine::parse_window(data, start, end, &mut run.line, &mut pool);
        let chunks = &pool[..n];
        let items = run.frame(chunks)?;
        // No ledger here: a duplicate is one of this batch (`R030`), as in `liquidator run`.
        let dup: Vec<bool> = run
            .mark_duplicates(chunks, &items, None)
            .iter()
            .map(|d| *d != Dup::No)
            .collect();
        each(chunks, &dup)?;
        start = end;
    }
    engine::check_batch(&run.info, run.after_trailer)?;
    Ok(run.info)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record of the layout's length: `head`, then spaces.
    fn rec(out: &mut Vec<u8>, head: &str) {
        let mut r = head.as_bytes().to_vec();
        r.resize(crate::claims::record::RECORD_LEN, b' ');
        out.extend_from_slice(&r);
        out.push(b'\n');
    }

    /// A batch of `claims` (practitioner, claim number), each a header, one act line of 101.94 €
    /// and its end record (the generated day's records, numbers changed), then the trailer.
    fn batch(claims: &[(u32, u32)]) -> Vec<u8> {
        let mut d = Vec::new();
        rec(&mut d, "00123456789000042202603160100");
        for &(prac, no) in claims {
            rec(
                &mut d,
                &format!("02{no:09}{prac:09}247048600047901001194704161100T11"),
            );
            rec(
                &mut d,
                &format!("4M{no:09}00120260131HJQJ001       407     00100010194"),
            );
            rec(&mut d, &format!("05{no:09}0010000010194"));
        }
        let n = claims.len();
        rec(&mut d, &format!("99000042{n:08}{n:09}{:012}", n * 10194));
        d
    }

    /// A claim sent again is flagged whether the copy is in the same sub-chunk, another sub-chunk
    /// of the window or a later window, and the first of a key in file order never is: the flags
    /// a set filled in file order gives, for windows from a few claims (every sub-chunk a claim,
    /// claims cut by the window's and sub-chunks' boundaries wherever they fall) to the whole
    /// file. The keys and routing come from the parse (`ClaimKeys`), the check from the window's
    /// sorted keys and the runs.
    #[test]
    fn a_copy_is_flagged_in_the_same_chunk_another_chunk_or_a_later_window_the_first_never() {
        let mut claims: Vec<(u32, u32)> = (0..3_000u32)
            .map(|i| (100_000_000 + i % 37 * 1_234_567, 1 + i))
            .collect();
        // Copies of earlier claims at distances of 1, 7, 60 and 900 claims (the same sub-chunk,
        // the next ones, the next windows), a copy of a copy, and a practitioner's claim number
        // sent by another practitioner (not a copy).
        for (at, back) in [(100, 1), (500, 7), (1_200, 60), (2_500, 900), (2_600, 100)] {
            let c = claims[at - back];
            claims.insert(at, c);
        }
        claims.insert(2_800, claims[2_599]);
        let other = (claims[10].0 + 1, claims[10].1);
        claims.insert(1_000, other);
        let mut seen = std::collections::HashSet::new();
        let want: Vec<bool> = claims.iter().map(|k| !seen.insert(*k)).collect();
        assert_eq!(want.iter().filter(|&&d| d).count(), 6);
        let data = batch(&claims);
        for window in [1, 600, 5_000, 77_777, 1 << 20, 64 << 20] {
            let mut got: Vec<bool> = Vec::new();
            let mut keys = Vec::new();
            read_file(&data, window, |chunks, dup| {
                got.extend_from_slice(dup);
                for ch in chunks {
                    for (c, k) in ch.claims.iter().zip(&ch.keys) {
                        let h = c.header.as_ref().map(|h| (h.practitioner, h.claim_no));
                        keys.push((h, *k));
                    }
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(got, want, "window {window}");
            assert_eq!(keys.len(), claims.len());
            for (&(prac, no), (h, k)) in claims.iter().zip(&keys) {
                assert_eq!(*h, Some((prac, no)));
                assert_eq!(k.dup, crate::carry::claim_key(prac, no));
                assert_eq!(
                    k.route,
                    crate::refs::benef_key(b"2470486000479", 1).unwrap()
                );
            }
        }
    }
}
