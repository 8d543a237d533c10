//! The stored form of a beneficiary's running state ([`BenefState`]): a version byte, then each field
//! in a fixed little-endian layout (formats/ledger.md, "benefs"). Hand-written rather than derived so
//! that the core's state type needs no serialisation traits and the layout is documented byte by byte.

use liquidator_core::date::Date;
use liquidator_core::rules::debt::{Debt, DebtKind, DebtOrigin};
use liquidator_core::rules::{BenefState, DailyCount};
use smallvec::SmallVec;

/// Layout version of an encoded state.
const VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
#[error("stored beneficiary state unreadable: {0}")]
pub struct DecodeError(pub &'static str);

/// Keeps only what a batch dated on or after the one that set `oldest` can still use: daily entries
/// whose date of care is on or after `oldest`, yearly counters of `oldest`'s year and later. Anything
/// older could only matter to care that the time limit rejects (`R012`) before it reaches the state.
pub fn prune(s: &mut BenefState, oldest: Date) {
    let year = oldest.year();
    s.daily.retain(|d| d.date >= oldest);
    s.fr_by_day.retain(|d| d.0 >= oldest);
    s.pf_by_year.retain(|y| y.0 >= year);
    s.fr_by_year.retain(|y| y.0 >= year);
}

pub fn encode(s: &BenefState, out: &mut Vec<u8>) {
    out.clear();
    encode_pruned(s, Date(0), out);
}

/// Appends to `out` what [`prune`] then [`encode`] would give, without copying the state.
pub fn encode_pruned(s: &BenefState, oldest: Date, out: &mut Vec<u8>) {
    let year = oldest.year();
    let keep_year = |y: &&(u32, i64)| y.0 >= year;
    out.push(VERSION);
    out.push(s.seeded as u8);
    years(out, s.pf_by_year.iter().filter(keep_year));
    years(out, s.fr_by_year.iter().filter(keep_year));
    let fr_days = || s.fr_by_day.iter().filter(|d| d.0 >= oldest);
    out.push(fr_days().count().min(255) as u8);
    for (d, v) in fr_days().take(255) {
        out.extend_from_slice(&d.0.to_le_bytes());
        out.extend_from_slice(&v.to_le_bytes());
    }
    let daily = || s.daily.iter().filter(|d| d.date >= oldest);
    out.extend_from_slice(&(daily().count().min(u16::MAX as usize) as u16).to_le_bytes());
    for d in daily().take(u16::MAX as usize) {
        out.extend_from_slice(&d.practitioner.to_le_bytes());
        out.extend_from_slice(&d.date.0.to_le_bytes());
        out.push(d.pf);
        out.push(d.exclusive);
        out.push(d.consult as u8 | (d.tech_act as u8) << 1);
        out.push(d.main_codes.len().min(255) as u8);
        out.extend(d.main_codes.iter().take(255));
        out.push(d.acts.len().min(255) as u8);
        for a in d.acts.iter().take(255) {
            out.extend_from_slice(a);
        }
    }
    let debts = s.open_debts();
    out.extend_from_slice(&(debts.len() as u32).to_le_bytes());
    for d in debts {
        let o = &d.origin;
        out.extend_from_slice(&o.created.0.to_le_bytes());
        out.extend_from_slice(&o.practitioner.to_le_bytes());
        out.extend_from_slice(&o.claim.to_le_bytes());
        out.extend_from_slice(&o.line.to_le_bytes());
        out.extend_from_slice(&o.date_of_care.0.to_le_bytes());
        out.push(match o.kind {
            DebtKind::Participation => 0,
            DebtKind::Franchise => 1,
        });
        out.extend_from_slice(&d.amount.to_le_bytes());
        out.extend_from_slice(&d.open.to_le_bytes());
    }
}

fn years<'a>(out: &mut Vec<u8>, v: impl Iterator<Item = &'a (u32, i64)> + Clone) {
    out.push(v.clone().count().min(255) as u8);
    for (y, c) in v.take(255) {
        out.extend_from_slice(&(*y as u16).to_le_bytes());
        out.extend_from_slice(&c.to_le_bytes());
    }
}

struct Rd<'a>(&'a [u8]);

impl Rd<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        if self.0.len() < N {
            return Err(DecodeError("truncated"));
        }
        let (a, b) = self.0.split_at(N);
        self.0 = b;
        let mut r = [0u8; N];
        r.copy_from_slice(a);
        Ok(r)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.take()?))
    }
}

pub fn decode(b: &[u8]) -> Result<BenefState, DecodeError> {
    let mut r = Rd(b);
    if r.u8()? != VERSION {
        return Err(DecodeError("unknown layout version"));
    }
    let mut s = BenefState::default();
    s.seeded = r.u8()? != 0;
    for _ in 0..r.u8()? {
        s.pf_by_year.push((r.u16()? as u32, r.i64()?));
    }
    for _ in 0..r.u8()? {
        s.fr_by_year.push((r.u16()? as u32, r.i64()?));
    }
    for _ in 0..r.u8()? {
        s.fr_by_day.push((Date(r.u32()?), r.i64()?));
    }
    for _ in 0..r.u16()? {
        let practitioner = r.u32()?;
        let date = Date(r.u32()?);
        let pf = r.u8()?;
        let exclusive = r.u8()?;
        let flags = r.u8()?;
        let mut main_codes = SmallVec::new();
        for _ in 0..r.u8()? {
            main_codes.push(r.u8()?);
        }
        let mut acts = SmallVec::new();
        for _ in 0..r.u8()? {
            acts.push(r.take::<7>()?);
        }
        s.daily.push(DailyCount {
            practitioner,
            date,
            pf,
            exclusive,
            consult: flags & 1 != 0,
            tech_act: flags & 2 != 0,
            main_codes,
            acts,
        });
    }
    for _ in 0..r.u32()? {
        let origin = DebtOrigin {
            created: Date(r.u32()?),
            practitioner: r.u32()?,
            claim: r.u32()?,
            line: r.u16()?,
            date_of_care: Date(r.u32()?),
            kind: match r.u8()? {
                0 => DebtKind::Participation,
                1 => DebtKind::Franchise,
                _ => return Err(DecodeError("unknown debt kind")),
            },
        };
        let (amount, open) = (r.i64()?, r.i64()?);
        if open <= 0 || open > amount {
            return Err(DecodeError("debt open amount out of range"));
        }
        s.push_debt(Debt {
            origin,
            amount,
            open,
        });
    }
    if !r.0.is_empty() {
        return Err(DecodeError("trailing bytes"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BenefState {
        let mut s = BenefState::default();
        s.seeded = true;
        s.add_pf(2025, 4_800);
        s.add_pf(2026, 300);
        s.add_franchise(Date(20260310), 200);
        s.add_franchise(Date(20240101), 100);
        let d = s.daily(123456789, Date(20260310));
        d.pf = 2;
        d.consult = true;
        d.main_codes.push(b'1');
        d.acts.push(*b"BGQP002");
        s.daily(42, Date(20240102)).exclusive = 1;
        for (k, open) in [(DebtKind::Participation, 200), (DebtKind::Franchise, 50)] {
            s.push_debt(Debt {
                origin: DebtOrigin {
                    created: Date(20260310),
                    practitioner: 123456789,
                    claim: 42,
                    line: 2,
                    date_of_care: Date(20260302),
                    kind: k,
                },
                amount: 200,
                open,
            });
        }
        s
    }

    #[test]
    fn state_round_trips_field_for_field() {
        let s = sample();
        let mut b = Vec::new();
        encode(&s, &mut b);
        let d = decode(&b).unwrap();
        assert_eq!(format!("{s:?}"), format!("{d:?}"));
    }

    #[test]
    fn truncated_or_unknown_version_is_an_error_not_a_default() {
        let mut b = Vec::new();
        encode(&sample(), &mut b);
        assert!(decode(&b[..b.len() - 1]).is_err());
        b[0] = 9;
        assert!(decode(&b).is_err());
    }

    #[test]
    fn encode_pruned_gives_the_bytes_of_prune_then_encode() {
        for oldest in [20200101, 20240101, 20240102, 20250101, 20260310, 20270101] {
            let mut pruned = sample();
            prune(&mut pruned, Date(oldest));
            let mut a = Vec::new();
            encode(&pruned, &mut a);
            let mut b = vec![7u8];
            encode_pruned(&sample(), Date(oldest), &mut b);
            assert_eq!(&b[1..], a.as_slice(), "oldest {oldest}");
        }
    }

    #[test]
    fn prune_keeps_the_oldest_payable_day_and_drops_the_day_before() {
        let mut s = sample();
        // oldest payable care on 2024-01-02: the session of 2024-01-02 stays, the franchise of
        // 2024-01-01 goes; the 2025 and 2026 yearly counters stay, as does 2024's franchise year.
        prune(&mut s, Date(20240102));
        assert_eq!(s.daily.len(), 2);
        assert_eq!(
            s.fr_by_day,
            [(Date(20260310), 200)]
                .into_iter()
                .collect::<SmallVec<[_; 1]>>()
        );
        assert_eq!(s.pf_used(2025), 4_800);
        assert_eq!(s.franchise_used(2024), 100);
        prune(&mut s, Date(20250101));
        assert_eq!(s.daily.len(), 1);
        assert_eq!(s.franchise_used(2024), 0);
        assert_eq!(s.pf_used(2025), 4_800);
    }
}
