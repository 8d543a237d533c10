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
use rayon::prelude::*;

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
    /// made by `finish` beside the other sinks' end-of-run work rather than by the commit, from
    /// `claims` and `acts`, which it empties (5.6 M claims and 1.7 M acts at national size are not
    /// held twice until the commit); with how many claims (paid) and acts they were made from. Not
    /// public: only `finish` makes them, and [`NightSink::sorted`] gives them only while nothing
    /// was added to `claims` and `acts` since, so that the commit cannot store records that
    /// disagree with the night.
    pub(crate) sorted: Option<Sorted>,
}

/// [`NightSink::records`] as `finish` made them, from `from` claims (`paid` of them paid) and acts:
/// the claims sorted in place, **their keys mixed** (`segments::mix`, one per key,
/// [`ClaimSeen::mixed_rec`] gives their records: 16 bytes a claim rather than a second copy of 24,
/// issue #14), the acts' records, made in the acts' own memory (`sort_claims`, `sort_acts`: no sort
/// buffer).
pub(crate) struct Sorted {
    claims: Vec<ClaimSeen>,
    acts: Vec<Rec>,
    from: (usize, usize),
    paid: usize,
}

impl ClaimSeen {
    /// The record the ledger stores for this claim (`segments`).
    pub fn rec(&self) -> Rec {
        Rec {
            key: segments::mix(self.key),
            check: 0,
            date: self.date,
            paid: self.paid,
        }
    }

    /// [`ClaimSeen::rec`] of a claim whose `key` is already mixed (those of [`NightSink::sorted`]).
    pub(crate) fn mixed_rec(&self) -> Rec {
        Rec {
            key: self.key,
            check: 0,
            date: self.date,
            paid: self.paid,
        }
    }
}

impl NightSink {
    pub fn new(batch_date: u32) -> NightSink {
        NightSink {
            batch_date,
            ..Default::default()
        }
    }

    /// [`NightSink::new`] for a batch file of `file_bytes`, its lists sized once. A claim takes
    /// at least three 129-byte records (header, a line, trailer: formats/claims-b2.md), so
    /// `file_bytes / 387` bounds a well-formed file's claims from above; a list that needs more
    /// grows as before. Grown by doubling, the 5.6 M claims of a national night (90 MiB) were
    /// copied and faulted in again at each step (issue #14: ≈ 0.3 s of CPU in `window`, most of it
    /// the kernel zeroing pages); reserved, each page is touched once, and the pages of the bound
    /// not used are never touched (address space only). The acts (a CCAM act paid in ≈ 3 claims
    /// of 10 at national size) get a third of that.
    pub fn for_file(batch_date: u32, file_bytes: usize) -> NightSink {
        let claims = file_bytes / (3 * 129);
        let mut n = NightSink::new(batch_date);
        // A hint: refused memory leaves the lists to grow.
        if n.claims.try_reserve_exact(claims).is_ok() {
            small_pages(&n.claims);
        }
        if n.acts.try_reserve_exact(claims / 3).is_ok() {
            small_pages(&n.acts);
        }
        n
    }

    /// Heap bytes held (claims and acts in file order, their sorted records): `LIQUIDATOR_TIMING`'s
    /// memory figures.
    pub fn heap_bytes(&self) -> usize {
        let rec = std::mem::size_of::<Rec>();
        // The lists' lengths, not their capacities: `for_file` reserves them from the file's size,
        // an upper bound whose untouched pages take no memory (review of stop 24).
        self.claims.len() * std::mem::size_of::<ClaimSeen>()
            + self.acts.len() * std::mem::size_of::<ActPaid>()
            // Sorted in the lists' own memory (`sort_claims`, `sort_acts`): the records they were
            // made from, before the repeated keys went.
            + self.sorted.as_ref().map_or(0, |s| {
                s.from.0 * std::mem::size_of::<ClaimSeen>() + s.from.1 * rec
            })
    }

    /// The records `finish` sorted, if nothing was added to the night's claims and acts since (the
    /// claims' keys mixed: [`ClaimSeen::mixed_rec`]).
    pub(crate) fn sorted(&self) -> Option<(&[ClaimSeen], &[Rec])> {
        self.sorted
            .as_ref()
            .filter(|_| self.claims.is_empty() && self.acts.is_empty())
            .map(|s| (s.claims.as_slice(), s.acts.as_slice()))
    }

    /// Claim numbers the night read (those `finish` sorted and any added since).
    pub fn claim_numbers(&self) -> usize {
        self.claims.len() + self.sorted.as_ref().map_or(0, |s| s.from.0)
    }

    /// Claims the night paid (wholly or partly).
    pub fn claims_paid(&self) -> usize {
        self.claims.iter().filter(|c| c.paid).count() + self.sorted.as_ref().map_or(0, |s| s.paid)
    }

    /// CCAM acts the night paid.
    pub fn ccam_acts(&self) -> usize {
        self.acts.len() + self.sorted.as_ref().map_or(0, |s| s.from.1)
    }

    /// The night's claim records (mixed key, latest date, paid) and act records (hash, check,
    /// date), each sorted by key, one per key (`segments::sort_night`): those `finish` sorted
    /// first, then any added since (in file order after them: the first of a key is kept).
    pub fn records(&self) -> (Vec<Rec>, Vec<Rec>) {
        let (c0, a0) = match &self.sorted {
            Some(s) => (s.claims.as_slice(), s.acts.as_slice()),
            None => (&[][..], &[][..]),
        };
        let (claims, acts) = (&self.claims, &self.acts);
        rayon::join(
            || {
                segments::sort_night(
                    c0.iter()
                        .map(ClaimSeen::mixed_rec)
                        .chain(claims.iter().map(ClaimSeen::rec))
                        .collect(),
                )
            },
            || {
                segments::sort_night(
                    a0.iter()
                        .copied()
                        .chain(acts.iter().map(|a| Rec {
                            key: a.key.hash,
                            check: a.key.check,
                            date: a.date,
                            paid: true,
                        }))
                        .collect(),
                )
            },
        )
    }
}

/// The span of a transparent huge page on x86-64 (a PMD: 2 MiB), and a multiple of every base page
/// size Linux uses (4, 16 and 64 KiB), so a range cut at its multiples is page-aligned anywhere.
/// Where huge pages are larger (arm64 with 64 KiB pages: 512 MiB), the advice still covers every
/// whole huge page inside the range.
const HUGE_SPAN: usize = 2 << 20;

/// Asks the kernel for small (4 KiB) pages, not transparent huge pages, for the capacity of `v`
/// not touched yet (the whole pages inside it): the night's claims and acts, ≈ 130 MiB written
/// once, in order, during the windows, each huge page of which the kernel zeroed whole on its
/// first fault — on this project's virtual machine a fresh huge page costs ≈ 3 ms or more, the
/// host backing it anew (`clear_page_erms` under `NightSink::window`: 1.8–2.3 % of a national
/// night 2's samples), where small pages come zeroed cheaply (a whole national night 2 with
/// mimalloc's huge pages off, `MIMALLOC_ALLOW_THP=0`: `clear_page_erms` 950 → 15 samples, the
/// kernel's samples about the same, 1 988 → 2 164 — but the user code's 8 983 → 12 768, its
/// random reads short of the huge pages' TLB reach: huge pages stay everywhere else). Lists
/// written and read in order lose little to small pages' TLB. Advice: an error changes nothing
/// and is ignored.
///
/// The range advised is the whole [`HUGE_SPAN`]s inside the capacity, not its whole base pages:
/// only a whole aligned span is ever mapped huge, and the span at each end, shared with other
/// allocations, is left as the allocator advised it (at most 2 MiB at each end of ≈ 90 and 40 MiB
/// at national size); `HUGE_SPAN` is a multiple of every base page size, so the range is
/// page-aligned without asking the system its page size. Asking it (`rustix::param::page_size`, which reads the
/// process's auxiliary vector and checks the vDSO's ELF header there) crashed every run through a
/// ledger under valgrind (rustix issue #1559: `SIGSEGV` in `check_elf_base` from
/// `NightSink::for_file`), so `callgrind` could not count a ledger night's instructions (WINDOWS19).
pub(crate) fn small_pages<T>(v: &Vec<T>) {
    let start = v.as_ptr() as usize;
    let end = start.saturating_add(v.capacity().saturating_mul(std::mem::size_of::<T>()));
    let (a, b) = (
        start.next_multiple_of(HUGE_SPAN),
        end / HUGE_SPAN * HUGE_SPAN,
    );
    if b > a {
        // SAFETY: `[a, b)` lies within `v`'s allocation, which `v` owns and keeps; the advice
        // changes only the size of the pages future faults map there, never their contents (the
        // memory stays valid and reads the same), and it unmaps nothing.
        #[allow(unsafe_code)]
        let _ = unsafe {
            rustix::mm::madvise(
                a as *mut std::ffi::c_void,
                b - a,
                rustix::mm::Advice::LinuxNoHugepage,
            )
        };
    }
}

/// Events ahead of the one read whose outcome [`NightSink::window`] prefetches.
const OUTCOME_AHEAD: usize = 16;
/// Events ahead of the one read whose paid lines [`NightSink::window`] prefetches (a claim with a
/// CCAM line only: its outcome prefetched [`OUTCOME_AHEAD`] − this events before).
const LINES_AHEAD: usize = 8;

/// Whether a claim has a CCAM line: only such a claim can have a CCAM act paid, and only its
/// outcome's paid lines are read.
fn has_ccam(lines: &[liquidator_core::claims::ActLine]) -> bool {
    lines.iter().any(|l| matches!(l.act, Act::Ccam { .. }))
}

impl Sink for NightSink {
    /// The outcomes (in their shards' lists, written a window earlier) and their paid lines (240
    /// bytes each, on the heap) are a cache miss each: reading the paid lines of every paid claim
    /// was 74 % of this function's samples (national night 2, issue #14), and once they were read
    /// only for a claim with a CCAM line (the claim's own lines, the window's parsed chunk, read
    /// in order, tell), the outcome itself 71 %. Both are prefetched, [`OUTCOME_AHEAD`] and
    /// [`LINES_AHEAD`] events before.
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        for (i, e) in events.iter().enumerate() {
            if let Some(Event::Claim(c)) = events.get(i + OUTCOME_AHEAD) {
                crate::segments::prefetch(std::slice::from_ref(c.outcome), 0);
            }
            if let Some(Event::Claim(c)) = events.get(i + LINES_AHEAD)
                && has_ccam(c.lines)
                && let Outcome::Paid(p) = c.outcome
            {
                for l in &p.lines {
                    crate::segments::prefetch(std::slice::from_ref(&l.index), 0);
                }
            }
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
            if !has_ccam(c.lines) {
                continue;
            }
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
    /// Called once, after the last window (the engine's contract): a second call would find the
    /// lists already moved into `sorted`, and is refused.
    fn finish(&mut self, _batch: &BatchInfo) -> Result<(), SinkError> {
        if self.sorted.is_some() {
            return Err(SinkError::Other(
                "ledger night sink: finish called twice".into(),
            ));
        }
        let from = (self.claim_numbers(), self.ccam_acts());
        let paid = self.claims_paid();
        // As `records` would sort them (the first of a key in file order is kept, as
        // `segments::sort_night` keeps it), in place: the claims with their keys mixed (a
        // bijection: equal keys stay equal), the acts into their records (`sort_claims`, `sort_acts`).
        let claims = std::mem::take(&mut self.claims);
        let acts = std::mem::take(&mut self.acts);
        let (claims, acts) = rayon::join(|| sort_claims(claims), || sort_acts(acts));
        self.sorted = Some(Sorted {
            claims,
            acts,
            from,
            paid,
        });
        Ok(())
    }
}

/// Claims and acts are sorted by key with their position in the file as the tie-break, so that the
/// first of a key in file order comes first and is the one `dedup` keeps — what a stable sort by
/// key gives — with an unstable sort **in place**: each element is rewritten, in its own slot, as a
/// tuple that holds its position (`Vec`'s in-place `collect`: same size and alignment, no new
/// allocation), sorted, deduplicated and rewritten back. The stable merge sort (`par_sort_by_key`)
/// took a scratch buffer of one element a record (≈ 90 MiB for a national night's claims, fresh
/// memory the kernel zeroes) and was ≈ 0.5 s of national night 2's CPU (issue #14, LEDGER13).
/// Positions are 32 bits, and a claim's date shares its `u64` with its `paid` bit (bit 31, as in
/// the stored record): a night beyond 2^32 claims or a date not below 2^31 takes the stable sort.
fn sort_claims(claims: Vec<ClaimSeen>) -> Vec<ClaimSeen> {
    if u32::try_from(claims.len()).is_err() || claims.par_iter().any(|c| c.date >> 31 != 0) {
        let mut claims = claims;
        claims
            .par_iter_mut()
            .for_each(|c| c.key = segments::mix(c.key));
        claims.par_sort_by_key(|c| c.key);
        claims.dedup_by_key(|c| c.key);
        return claims;
    }
    // (mixed key, position << 32 | paid << 31 | date): ordered by key, then position.
    let mut t: Vec<(u64, u64)> = claims
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let v = (i as u64) << 32 | u64::from(c.paid) << 31 | u64::from(c.date);
            (segments::mix(c.key), v)
        })
        .collect();
    crate::radix::sort(&mut t);
    t.dedup_by_key(|e| e.0);
    t.into_iter()
        .map(|(key, v)| ClaimSeen {
            key,
            date: v as u32 & 0x7fff_ffff,
            paid: v >> 31 & 1 != 0,
        })
        .collect()
}

/// The acts' records sorted by hash, the first of a hash in file order kept ([`sort_claims`]: in
/// place, by hash then position; the stable sort beyond 2^32 acts).
fn sort_acts(acts: Vec<ActPaid>) -> Vec<Rec> {
    let rec = |a: &ActPaid| Rec {
        key: a.key.hash,
        check: a.key.check,
        date: a.date,
        paid: true,
    };
    if u32::try_from(acts.len()).is_err() {
        return segments::sort_night(acts.iter().map(rec).collect());
    }
    // (hash, position << 32 | date, check): ordered by hash, then position.
    let mut t: Vec<(u64, u64, u64)> = acts
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            (
                a.key.hash,
                (i as u64) << 32 | u64::from(a.date),
                a.key.check,
            )
        })
        .collect();
    // By (hash, position), the position unique: the order of the whole triple.
    crate::radix::sort(&mut t);
    t.dedup_by_key(|e| e.0);
    t.into_iter()
        .map(|(key, v, check)| Rec {
            key,
            check,
            date: v as u32,
            paid: true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `finish` sorts the claims in place and keeps their records' view: what it gives the commit
    /// is what `records` gives, repeated keys included (the first in file order is kept).
    #[test]
    fn the_records_finish_keeps_are_those_records_sorts() {
        let mut n = NightSink::new(20260316);
        for i in 0..50_000u64 {
            let k = (i * 7_919) % 20_000;
            n.claims.push(ClaimSeen {
                key: k,
                date: 20260000 + (i % 28) as u32,
                paid: i % 3 == 0,
            });
            if i % 4 == 0 {
                n.acts.push(ActPaid {
                    key: ActKey {
                        hash: k % 5_000,
                        check: i,
                    },
                    date: 20260301,
                });
            }
        }
        let want = n.records();
        let counts = (n.claim_numbers(), n.claims_paid(), n.ccam_acts());
        n.finish(&BatchInfo::default()).unwrap();
        let (c, a) = n.sorted().unwrap();
        assert_eq!(
            c.iter().map(ClaimSeen::mixed_rec).collect::<Vec<_>>(),
            want.0
        );
        assert_eq!(a, want.1.as_slice());
        assert_eq!(want.0.len(), 20_000);
        assert_eq!(n.records(), want);
        assert_eq!((n.claim_numbers(), n.claims_paid(), n.ccam_acts()), counts);
        // A second `finish` would find the lists moved into `sorted`: refused, nothing changed.
        assert!(n.finish(&BatchInfo::default()).is_err());
        assert_eq!(n.records(), want);
        assert_eq!((n.claim_numbers(), n.claims_paid(), n.ccam_acts()), counts);
    }

    /// The lists `for_file` reserves are advised to small pages: their contents read the same
    /// and they grow past the reservation as any list.
    #[test]
    fn lists_advised_to_small_pages_keep_their_contents_and_still_grow() {
        let mut n = NightSink::for_file(20260316, 3 * 129 * 3_000);
        assert!(n.claims.capacity() >= 3_000 && n.acts.capacity() >= 1_000);
        for i in 0..10_000u64 {
            n.claims.push(ClaimSeen {
                key: i,
                date: 20260301,
                paid: i % 2 == 0,
            });
        }
        small_pages(&n.claims);
        small_pages(&Vec::<ActPaid>::new());
        assert!(
            n.claims
                .iter()
                .enumerate()
                .all(|(i, c)| c.key == i as u64 && c.paid == (i % 2 == 0))
        );
    }

    /// A date that does not leave bit 31 free for `paid` (never a parsed date: 8 digits) takes the
    /// stable sort, and `finish` still keeps what `records` keeps.
    #[test]
    fn claims_whose_date_needs_bit_31_are_sorted_as_records_sorts_them() {
        let mut n = NightSink::new(20260316);
        for i in 0..10_000u64 {
            n.claims.push(ClaimSeen {
                key: (i * 7_919) % 3_000,
                date: if i == 77 {
                    u32::MAX
                } else {
                    20260000 + i as u32 % 28
                },
                paid: i % 2 == 0,
            });
        }
        let want = n.records();
        n.finish(&BatchInfo::default()).unwrap();
        let (c, _) = n.sorted().unwrap();
        assert_eq!(
            c.iter().map(ClaimSeen::mixed_rec).collect::<Vec<_>>(),
            want.0
        );
        assert!(c.iter().any(|c| c.date == u32::MAX) || !want.0.iter().any(|r| r.date == u32::MAX));
    }
}
