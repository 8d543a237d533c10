//! What the stored states of a ledger's image are made of (issue #14, LEDGER21): bytes by part of
//! the packed state, and the dates their daily entries hold.
//!
//! `state_parts LEDGER_DIR/states.GEN.img [YYYYMMDD]` (the date the daily entries' ages are counted
//! from; default 2026-03-17, the generated national night 2). The file is read by the ledger's own
//! checked reader (`images::Images::map`: trailer, radix table, records whole and in key order); its
//! checksum is computed here, since `meta.states`, which records it, is in the store beside.
use liquidator_core::date::Date;
use liquidator_core::states::packed;
use liquidator_ledger::images::{self, ImageRef, Images};
use std::error::Error;
use std::path::Path;

/// Bytes of a packed state held in a shard's slot (`states::INLINE`): longer ones spill.
const INLINE: usize = 39;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1).map(Path::new) else {
        return Err("usage: state_parts LEDGER_DIR/states.GEN.img [YYYYMMDD]".into());
    };
    let day = match args.get(2) {
        Some(s) => s.parse().map_err(|e| format!("date {s:?}: {e}"))?,
        None => 20260317,
    };
    let generation = path
        .file_name()
        .and_then(|n| images::file_gen(&n.to_string_lossy()))
        .ok_or("not a state image's name (states.GEN.img)")?;
    let bytes = std::fs::read(path)?;
    let image = Images::map(
        path,
        ImageRef {
            generation,
            len: bytes.len() as u64,
            sum: xxhash_rust::xxh3::xxh3_64(&bytes),
        },
    )?;
    drop(bytes);

    let (mut total, mut daily_b, mut frday_b, mut years_b, mut rest_b) = (0usize, 0, 0, 0, 0);
    let (mut n_daily, mut n_frday, mut n_debtors, mut n_debts, mut spilled, mut spilled_b) =
        (0usize, 0, 0, 0, 0, 0);
    let mut by_age = [0usize; 12]; // daily entries by months before `day`
    let mut hist = [0usize; 8]; // states by number of daily entries
    let mut v = Vec::new();
    let mut keys = 0usize;
    for (_, r) in image.iter() {
        let len = r.len();
        let s = packed::decode(r)?;
        keys += 8 + 1;
        total += len;
        if len > INLINE {
            spilled += 1;
            spilled_b += len;
        }
        // Each part's bytes: the state packed again without it.
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
    println!(
        "{} states, {:.1} MiB of packed bytes ({:.1} MiB keys+lengths)",
        image.len(),
        mib(total),
        mib(keys)
    );
    println!(
        "  daily entries {:.1} MiB ({} entries), franchise days {:.1} MiB ({}), years {:.1} MiB, header+debts {:.1} MiB ({} debts, {} debtors)",
        mib(daily_b),
        n_daily,
        mib(frday_b),
        n_frday,
        mib(years_b),
        mib(rest_b),
        n_debts,
        n_debtors
    );
    println!(
        "  over {INLINE} bytes (spilled in a shard): {} states, {:.1} MiB",
        spilled,
        mib(spilled_b)
    );
    println!("  states by daily entries 0..7+: {hist:?}");
    println!("  daily entries by months before {day}: {by_age:?}");
    Ok(())
}
