//! What a night adds to the ledger, collected from the engine's typed events like any other output
//! (a [`Sink`]): every claim number read (paid or rejected) and every act paid.

use crate::segments::{self, Rec};
use liquidator_core::carry::{ActKey, claim_key, paid_act_key};
use liquidator_core::claims::Act;
use liquidator_core::codes::Reject;
use liquidator_core::engine::BatchInfo;
use liquidator_core::refs::benef_key;
use liquidator_core::rules::Outcome;
use liquidator_core::sink::{Event, Sink, SinkError};

/// A claim number the night read: its key, the latest date of care of its lines (the batch date when
/// it has none readable) and whether it was paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimSeen {
    pub key: u64,
    pub date: u32,
    pub paid: bool,
}

/// A CCAM act the night paid and its date of care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActPaid {
    pub key: ActKey,
    pub date: u32,
}

/// Collects the night's claims and acts, in file order.
#[derive(Default)]
pub struct NightSink {
    pub batch_date: u32,
    pub claims: Vec<ClaimSeen>,
    pub acts: Vec<ActPaid>,
    /// With `keep_names`: each beneficiary key's `NIR-rank`, for files that name beneficiaries
    /// (`reprocess --ledger`'s `ledger_counters.tsv`).
    pub keep_names: bool,
    pub names: rustc_hash::FxHashMap<u64, String>,
    /// The night's claim and act records as the ledger stores them, sorted ([`NightSink::records`]),
    /// made by `finish` beside the other sinks' end-of-run work rather than by the commit; with the
    /// numbers of claims and acts they were made from. Not public: only `finish` makes them, and
    /// [`NightSink::sorted`] gives them only while `claims` and `acts` are still what they were made
    /// from, so that the commit cannot store records that disagree with the night.
    pub(crate) sorted: Option<Sorted>,
}

/// [`NightSink::records`] as `finish` made them, from `from` (claims, acts).
pub(crate) struct Sorted {
    records: (Vec<Rec>, Vec<Rec>),
    from: (usize, usize),
}

impl NightSink {
    pub fn new(batch_date: u32) -> NightSink {
        NightSink {
            batch_date,
            ..Default::default()
        }
    }

    /// The records `finish` sorted, if the night's claims and acts are still those it sorted.
    pub(crate) fn sorted(&self) -> Option<&(Vec<Rec>, Vec<Rec>)> {
        self.sorted
            .as_ref()
            .filter(|s| s.from == (self.claims.len(), self.acts.len()))
            .map(|s| &s.records)
    }

    /// The night's claim records (mixed key, latest date, paid) and act records (hash, check,
    /// date), each sorted by key, one per key (`segments::sort_night`).
    pub fn records(&self) -> (Vec<Rec>, Vec<Rec>) {
        rayon::join(
            || {
                segments::sort_night(
                    self.claims
                        .iter()
                        .map(|c| Rec {
                            key: segments::mix(c.key),
                            check: 0,
                            date: c.date,
                            paid: c.paid,
                        })
                        .collect(),
                )
            },
            || {
                segments::sort_night(
                    self.acts
                        .iter()
                        .map(|a| Rec {
                            key: a.key.hash,
                            check: a.key.check,
                            date: a.date,
                            paid: true,
                        })
                        .collect(),
                )
            },
        )
    }
}

impl Sink for NightSink {
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        for e in events {
            let Event::Claim(c) = e else { continue };
            let Some(h) = c.header else { continue };
            // A duplicate transmission does not replace the claim it repeats.
            if let Outcome::Rejected(r) = c.outcome
                && matches!(
                    r.code,
                    Reject::Duplicate | Reject::ClaimPaidEarlier | Reject::ClaimReadEarlier
                )
            {
                continue;
            }
            let date = c
                .lines
                .iter()
                .map(|l| l.date.0)
                .max()
                .unwrap_or(self.batch_date);
            self.claims.push(ClaimSeen {
                key: claim_key(h.practitioner, h.claim_no),
                date,
                paid: matches!(c.outcome, Outcome::Paid(_)),
            });
            if self.keep_names
                && let Some(b) = benef_key(&h.nir, h.rank)
            {
                self.names.entry(b).or_insert_with(|| {
                    format!("{}-{:03}", String::from_utf8_lossy(&h.nir), h.rank)
                });
            }
            // The beneficiary's key (a NIR parsed) only for a claim with a CCAM act paid: most
            // claims have none.
            let Outcome::Paid(p) = c.outcome else {
                continue;
            };
            let mut benef = None;
            for l in &p.lines {
                let Some(a) = c.lines.get(l.index as usize) else {
                    continue;
                };
                if !matches!(a.act, Act::Ccam { .. }) {
                    continue;
                }
                let b = match benef {
                    Some(b) => b,
                    None => match benef_key(&h.nir, h.rank) {
                        Some(b) => *benef.insert(b),
                        None => break,
                    },
                };
                if let Some(key) = paid_act_key(b, h.practitioner, a) {
                    self.acts.push(ActPaid {
                        key,
                        date: a.date.0,
                    });
                }
            }
        }
        Ok(())
    }
    fn finish(&mut self, _batch: &BatchInfo) -> Result<(), SinkError> {
        self.sorted = Some(Sorted {
            records: self.records(),
            from: (self.claims.len(), self.acts.len()),
        });
        Ok(())
    }
}
