//! What the stored states of a ledger's image are made of (issue #14, LEDGER21): bytes by part of
//! the packed state, and the dates their daily entries hold. `state_parts IMAGE [YYYYMMDD]`.
use liquidator_core::date::Date;
use liquidator_core::states::packed;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let b = std::fs::read(&args[1]).unwrap();
    let day: u32 = args.get(2).map_or(20260317, |s| s.parse().unwrap());
    let t = &b[b.len() - 40..];
    let bytes = u64::from_le_bytes(t[24..32].try_into().unwrap()) as usize;
    let recs = liquidator_ledger::images::parse(&b[..bytes]).unwrap();
    let (mut total, mut daily_b, mut frday_b, mut years_b, mut rest_b) = (0usize, 0, 0, 0, 0);
    let (mut n_daily, mut n_frday, mut n_debtors, mut n_debts, mut spilled, mut spilled_b) = (0usize, 0, 0, 0, 0, 0);
    let mut by_age = [0usize; 12]; // daily entries by months before `day`
    let mut hist = [0usize; 8]; // states by number of daily entries
    let mut v = Vec::new();
    let mut keys = 0usize;
    for &(_, off, len) in &recs {
        let r = &b[off..off + len];
        let s = packed::decode(r).unwrap();
        keys += 8 + 1;
        total += len;
        if len > 39 {
            spilled += 1;
            spilled_b += len;
        }
        let mut x = s.clone();
        x.daily.clear();
        packed::encode(&x, &mut v);
        daily_b += len - v.len();
        let l1 = v.len();
        x.fr_by_day.clear();
        packed::encode(&x, &mut v);
        frday_b += l1 - v.len();
        let l2 = v.len();
        x.pf_by_year.clear();
        x.fr_by_year.clear();
        packed::encode(&x, &mut v);
        years_b += l2 - v.len();
        rest_b += v.len();
        n_daily += s.daily.len();
        n_frday += s.fr_by_day.len();
        hist[s.daily.len().min(7)] += 1;
        let d = s.open_debts().len();
        n_debts += d;
        n_debtors += (d > 0) as usize;
        for e in &s.daily {
            let m = (Date(day).to_days() - e.date.to_days()).max(0) as usize / 30;
            by_age[m.min(11)] += 1;
        }
    }
    let mib = |x: usize| x as f64 / (1 << 20) as f64;
    println!("{} states, {:.1} MiB of packed bytes ({:.1} MiB keys+lengths)", recs.len(), mib(total), mib(keys));
    println!("  daily entries {:.1} MiB ({} entries), franchise days {:.1} MiB ({}), years {:.1} MiB, header+debts {:.1} MiB ({} debts, {} debtors)",
        mib(daily_b), n_daily, mib(frday_b), n_frday, mib(years_b), mib(rest_b), n_debts, n_debtors);
    println!("  over 39 bytes (spilled in a shard): {} states, {:.1} MiB", spilled, mib(spilled_b));
    println!("  states by daily entries 0..7+: {hist:?}");
    println!("  daily entries by months before {day}: {by_age:?}");
}
