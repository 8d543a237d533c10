//! `liquidator refs build` and `refs lookup`: assembling a reference set from the official CCAM files,
//! our regulatory tables and (optionally) the parties of an existing set; showing what the engine will
//! use for an act on a date.

use liquidator_core::date::Date;
use liquidator_core::money::fmt_euros;
use liquidator_core::refs::{Code7, Refs};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Tables that describe parties, copied by `--from` (the CCAM part is rebuilt).
pub const PARTY_TABLES: [&str; 4] = [
    "practitioners.tsv",
    "beneficiaries.tsv",
    "ald.tsv",
    "amc.tsv",
];
pub const PARTY_HEADERS: [&str; 4] = [
    "billing_no\tvalid_from\tvalid_to\tspecialty\tsector\toptam\n",
    "nir\trank\tbirth_date\tvalid_from\tvalid_to\tregime\tfund\tlocal_regime\tc2s\tamc\tcontract\tpf_year\tpf_used\n",
    "nir\trank\tvalid_from\tvalid_to\tald\n",
    "amc\tcontract\tvalid_from\tvalid_to\texcess_cover\tname\n",
];

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Ccam(String),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("the reference set written does not load: {0}")]
    Check(#[from] liquidator_core::refs::LoadError),
    #[error(transparent)]
    Stage(#[from] liquidator_core::output::files::StageError),
}

/// `FILE` or `FILE@YYYY-MM-DD`.
pub fn parse_ccam_arg(s: &str) -> Result<(PathBuf, Option<Date>), BuildError> {
    match s.rsplit_once('@') {
        Some((f, d)) if d.len() == 10 => {
            let date = Date::parse_iso(d).ok_or_else(|| {
                BuildError::Usage(format!("`{d}` is not a date YYYY-MM-DD in `{s}`"))
            })?;
            Ok((PathBuf::from(f), Some(date)))
        }
        _ => Ok((PathBuf::from(s), None)),
    }
}

/// Builds a reference set in `out`: CCAM history from `ccam` files, our tables (from `tables` or the
/// embedded copies), parties copied from `from` (or empty tables). The result is loaded back before
/// returning, so a set that `build` writes always loads.
pub fn build(
    ccam: &[(PathBuf, Option<Date>)],
    from: Option<&Path>,
    tables: Option<&Path>,
    out: &Path,
) -> Result<Vec<String>, BuildError> {
    if ccam.is_empty() {
        return Err(BuildError::Usage(
            "at least one --ccam FILE is required".into(),
        ));
    }
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| BuildError::Io(p.clone(), e)
    };
    let mut versions = Vec::new();
    let mut warnings = Vec::new();
    for (path, date) in ccam {
        let bytes = std::fs::read(path).map_err(io(path))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut v = crate::official::parse_official(&bytes, &name)
            .map_err(|e| BuildError::Ccam(e.to_string()))?;
        if let Some(d) = date {
            v.applicable = d.0;
        }
        warnings.extend(v.warnings.iter().cloned());
        versions.push(v);
    }
    let mut list: Vec<(u32, u32)> = versions.iter().map(|v| (v.version, v.applicable)).collect();
    list.sort_by_key(|v| v.1);
    let hist =
        crate::official::build_history(versions).map_err(|e| BuildError::Ccam(e.to_string()))?;
    // Written in a staging directory beside `out`, loaded back, then renamed into place: a set that
    // `build` leaves under `out` is always complete and loads (the one atomic-write protocol,
    // `liquidator_core::output::files`). An existing `out` is replaced whole.
    let final_out = out;
    let stage = liquidator_core::output::files::Staging::create(final_out, true)?;
    let out = stage.dir.as_path();
    crate::official::write_tsv(&hist, out).map_err(io(out))?;
    let mut vt = String::from("version\tvalid_from\tvalid_to\n");
    for (k, (v, d)) in list.iter().enumerate() {
        let to = list
            .get(k + 1)
            .map(|n| Date(n.1).to_string())
            .unwrap_or_default();
        vt.push_str(&format!("{v}\t{}\t{to}\n", Date(*d)));
    }
    let p = out.join("ccam_versions.tsv");
    std::fs::write(&p, vt).map_err(io(&p))?;
    for (name, text) in crate::embedded::OWN_TABLES {
        let p = out.join(name);
        match tables {
            Some(dir) => {
                std::fs::copy(dir.join(name), &p).map_err(io(&dir.join(name)))?;
            }
            None => std::fs::write(&p, text).map_err(io(&p))?,
        }
    }
    for (name, header) in PARTY_TABLES.iter().zip(PARTY_HEADERS) {
        let p = out.join(name);
        match from {
            Some(dir) => {
                std::fs::copy(dir.join(name), &p).map_err(io(&dir.join(name)))?;
            }
            None => std::fs::write(&p, header).map_err(io(&p))?,
        }
    }
    Refs::load(out)?;
    stage.commit()?;
    Ok(warnings)
}

/// The CCAM version in force on a date, from `ccam_versions.tsv` (when the set has one).
pub fn version_on(dir: &Path, d: Date) -> Option<u32> {
    let text = std::fs::read_to_string(dir.join("ccam_versions.tsv")).ok()?;
    let t = liquidator_core::refs::tsv::Table::parse("ccam_versions.tsv", &text).ok()?;
    t.rows().find_map(|r| {
        let p = r.period().ok()?;
        p.contains(d)
            .then(|| r.uint("version").ok().map(|v| v as u32))
            .flatten()
    })
}

/// What the engine uses for `code` on `date`: JSON, or an error message for an unknown code or date.
pub fn lookup(
    refs: &Refs,
    dir: &Path,
    code: &str,
    date: Date,
    activity: Option<u8>,
    phase: Option<u8>,
    grid: Option<u8>,
) -> Result<Value, String> {
    let c: Code7 = code
        .as_bytes()
        .try_into()
        .map_err(|_| format!("`{code}` is not a 7-character CCAM code"))?;
    let hist = refs
        .acts
        .get(&c)
        .ok_or_else(|| format!("CCAM code {code} is unknown in this reference set"))?;
    let Some((p, act)) = hist.at(date) else {
        let periods: Vec<String> = hist
            .rows()
            .iter()
            .map(|(p, _)| format!("{}..{}", p.from, p.to_opt_string()))
            .collect();
        return Err(format!(
            "CCAM code {code} is not valid on {date} (valid: {})",
            periods.join(", ")
        ));
    };
    let mut rows: Vec<Value> = Vec::new();
    let mut keys: Vec<_> = refs.tariffs.keys().filter(|k| k.0 == c).copied().collect();
    keys.sort();
    for k in keys {
        if activity.is_some_and(|a| a != k.1) || phase.is_some_and(|ph| ph != k.2) {
            continue;
        }
        let Some((tp, t)) = refs.tariffs.get(&k).and_then(|h| h.at(date)) else {
            continue;
        };
        let mut tariffs = serde_json::Map::new();
        for g in [1u8, 2] {
            if grid.is_some_and(|x| x != g) {
                continue;
            }
            tariffs.insert(
                g.to_string(),
                t.for_grid(g)
                    .map(fmt_euros)
                    .map(Value::from)
                    .unwrap_or(Value::Null),
            );
        }
        // The list the engine prices with (`Refs::allowed_mods_of`): an activity without a list
        // of its own uses activity 1's — shown empty here before, while the engine applied it.
        let mods = refs
            .allowed_mods_of(c, k.1)
            .and_then(|h| h.value_at(date))
            .map(|m| m.set.to_string())
            .unwrap_or_default();
        // The value of each allowed modifier on the date, per grid: official values (chapter 19.03,
        // `*` default, specialty lists, `?` unmapped) or ours.
        let mut values = serde_json::Map::new();
        for m in mods.bytes() {
            let mut per_grid = serde_json::Map::new();
            for g in [1u8, 2] {
                if grid.is_some_and(|x| x != g) {
                    continue;
                }
                let show = |k: &liquidator_core::refs::ModKind| match k {
                    liquidator_core::refs::ModKind::Pct(bp) => {
                        format!("+{} %", liquidator_core::money::fmt_pct(*bp))
                    }
                    liquidator_core::refs::ModKind::Fixed(c) => format!("{} €", fmt_euros(*c)),
                };
                let v = match refs.modifier_values.get(&(m, g)).and_then(|h| h.at(date)) {
                    Some((_, off)) => Value::from(
                        off.entries
                            .iter()
                            .map(|e| {
                                let who = match e.applies {
                                    liquidator_core::refs::ModApplies::Default => "*".to_string(),
                                    liquidator_core::refs::ModApplies::Unmapped => "?".to_string(),
                                    liquidator_core::refs::ModApplies::Specialties(s) => s.to_string(),
                                };
                                json!({"specialties": who, "value": show(&e.kind), "version": off.version})
                            })
                            .collect::<Vec<_>>(),
                    ),
                    None => refs
                        .modifier_value(m, g, date, 0)
                        .map(|r| json!([{"specialties": "*", "value": show(&r.kind), "source": "modifiers.tsv"}]))
                        .unwrap_or(Value::Null),
                };
                per_grid.insert(g.to_string(), v);
            }
            values.insert((m as char).to_string(), Value::Object(per_grid));
        }
        rows.push(json!({
            "modifier_values": values,
            "activity": k.1,
            "phase": k.2,
            "version": t.version,
            "valid_from": tp.from.to_string(),
            "valid_to": (tp.to != Date::MAX).then(|| tp.to.to_string()),
            "tariffs": tariffs,
            "modifiers": mods,
        }));
    }
    if rows.is_empty() {
        return Err(format!(
            "CCAM code {code} has no activity/phase matching the filters on {date}"
        ));
    }
    let companions: Vec<String> = refs
        .companions
        .get(&c)
        .and_then(|h| h.value_at(date))
        .map(|v| {
            v.iter()
                .map(|x| String::from_utf8_lossy(x).to_string())
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({
        "code": code,
        "date": date.to_string(),
        "ccam_version_in_force": version_on(dir, date),
        "version": act.version,
        "valid_from": p.from.to_string(),
        "valid_to": (p.to != Date::MAX).then(|| p.to.to_string()),
        "label": act.label,
        "exo_tm": act.exo_tm_raw,
        "rc": act.rc,
        "ap": act.ap,
        "regroupement": String::from_utf8_lossy(&act.regroupement).trim_end(),
        "complement": act.complement,
        "companions": companions,
        "activities": rows,
    }))
}
