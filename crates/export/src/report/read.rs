//! Reads an output directory of `liquidator run` (`formats/outputs.md`) into the aggregates the report
//! shows. The TSV files are streamed once (the national day's `payments.tsv` has millions of rows);
//! memory is bounded by the number of distinct codes, insurers and rejection reasons, not by rows.
//!
//! The files are re-added here, independently of `summary.json`, so that the report can show whether
//! the files and the summary agree (the "conservation checks" section).

use super::ReportError;
use super::tsv::Tsv;
use liquidator_core::output::{AMC_DIR, PAYMENTS, REJECTIONS, SUMMARY, Summary};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Counts and amounts (cents) of a group of payment lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Agg {
    pub lines: u64,
    pub billed: i128,
    pub base: i128,
    pub amo_paid: i128,
    pub amc: i128,
}

impl Agg {
    fn add(&mut self, l: &Line) {
        self.lines += 1;
        self.billed += l.billed as i128;
        self.base += l.base as i128;
        self.amo_paid += l.amo_paid as i128;
        self.amc += l.amc as i128;
    }
}

struct Line {
    billed: i64,
    base: i64,
    amo_paid: i64,
    amc: i64,
}

/// What `payments.tsv` adds up to.
#[derive(Debug, Default)]
pub struct Payments {
    pub rows: u64,
    /// Paid claims: runs of consecutive rows with the same (claim, practitioner) — rows are in file order.
    pub claims: u64,
    pub billed: i128,
    pub base: i128,
    pub amo_gross: i128,
    pub amo_paid: i128,
    pub amc: i128,
    pub patient: i128,
    pub participation: i128,
    pub heavy_forfait: i128,
    pub excess: i128,
    /// Lines breaking `billed = amo_paid + amc + patient`, `base = amo_gross + ticket` or
    /// `amo_gross = amo_paid + participation`, and the first such line number.
    pub split_errors: u64,
    pub first_split_error: Option<u64>,
    /// CCAM lines by code family (first 4 characters of the code), NGAP lines by letter.
    pub ccam_families: HashMap<String, Agg>,
    pub ngap_letters: HashMap<String, Agg>,
    /// CCAM lines by code (NGAP acts are their letters: `ngap_letters`).
    pub ccam_acts: HashMap<String, Agg>,
    /// By payee kind of the AMO payment (`PS`, `ASSURE`).
    pub by_payee: BTreeMap<String, Agg>,
    /// By complementary insurer number (`""` when the claim has none).
    pub by_amc: BTreeMap<String, Agg>,
}

/// One rejection reason as found in `rejections.tsv`.
#[derive(Debug, Default, Clone)]
pub struct Reason {
    pub mnemonic: String,
    pub count: u64,
    pub billed: i128,
}

/// What `rejections.tsv` adds up to. Records outside claims (`R002`) are not claims: kept apart.
#[derive(Debug, Default)]
pub struct Rejections {
    pub by_code: BTreeMap<String, Reason>,
    pub claims: u64,
    pub billed: i128,
    pub orphans: u64,
    pub orphan_billed: i128,
}

/// One `amc/<AMC>.tsv` file.
#[derive(Debug, Default, Clone)]
pub struct AmcFile {
    pub file: String,
    pub rows: u64,
    pub amc_total: i128,
}

/// Everything the report needs from one output directory.
#[derive(Debug)]
pub struct RunData {
    pub dir: PathBuf,
    pub summary: Summary,
    pub payments: Payments,
    pub rejections: Rejections,
    /// `None` when the `amc/` directory is absent.
    pub amc_files: Option<Vec<AmcFile>>,
}

/// The code reserved for records outside any claim (`formats/codes.md`).
pub const ORPHAN_CODE: &str = "R002";

/// Reads and parses `summary.json` of an output directory.
pub fn read_summary(dir: &Path) -> Result<Summary, ReportError> {
    let path = dir.join(SUMMARY);
    let text = std::fs::read_to_string(&path).map_err(|source| ReportError::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ReportError::Json {
        line: e.line(),
        path,
        msg: e.to_string(),
    })
}

/// Reads a whole output directory.
pub fn read_run(dir: &Path) -> Result<RunData, ReportError> {
    if !dir.is_dir() {
        return Err(ReportError::NotADir(dir.to_path_buf()));
    }
    let summary = read_summary(dir)?;
    let payments = read_payments(&dir.join(PAYMENTS))?;
    let rejections = read_rejections(&dir.join(REJECTIONS))?;
    let amc_files = read_amc_dir(&dir.join(AMC_DIR))?;
    Ok(RunData {
        dir: dir.to_path_buf(),
        summary,
        payments,
        rejections,
        amc_files,
    })
}

/// Adds a line to the group `key`, allocating the key only the first time it is seen (millions of
/// rows, a few thousand keys).
fn add_to(map: &mut HashMap<String, Agg>, key: &str, l: &Line) {
    match map.get_mut(key) {
        Some(a) => a.add(l),
        None => {
            let mut a = Agg::default();
            a.add(l);
            map.insert(key.to_string(), a);
        }
    }
}

fn add_to_sorted(map: &mut BTreeMap<String, Agg>, key: &str, l: &Line) {
    match map.get_mut(key) {
        Some(a) => a.add(l),
        None => {
            let mut a = Agg::default();
            a.add(l);
            map.insert(key.to_string(), a);
        }
    }
}

fn read_payments(path: &Path) -> Result<Payments, ReportError> {
    let mut t = Tsv::open(path)?;
    let c_claim = t.col("claim")?;
    let c_prac = t.col("practitioner")?;
    let c_type = t.col("type")?;
    let c_code = t.col("code")?;
    let c_base = t.col("base")?;
    let c_gross = t.col("amo_gross")?;
    let c_part = t.col("participation")?;
    let c_heavy = t.col("heavy_forfait")?;
    let c_paid = t.col("amo_paid")?;
    let c_billed = t.col("billed")?;
    let c_excess = t.col("excess")?;
    let c_ticket = t.col("ticket")?;
    let c_amc = t.col("amc")?;
    let c_patient = t.col("patient")?;
    let c_payee = t.col("payee_kind")?;
    let c_amc_no = t.col("amc_number")?;

    let mut p = Payments::default();
    let mut prev_claim = (String::new(), String::new());
    while let Some(r) = t.next_row()? {
        let l = Line {
            billed: r.cents(c_billed)?,
            base: r.cents(c_base)?,
            amo_paid: r.cents(c_paid)?,
            amc: r.cents(c_amc)?,
        };
        let gross = r.cents(c_gross)?;
        let part = r.cents(c_part)?;
        let heavy = r.cents(c_heavy)?;
        let excess = r.cents(c_excess)?;
        let ticket = r.cents(c_ticket)?;
        let patient = r.cents(c_patient)?;
        // i128 arithmetic: a corrupt file with huge amounts must give a red check, not an overflow.
        let (b, pa, g, bs, t_, pt, pp, am) = (
            l.billed as i128,
            patient as i128,
            gross as i128,
            l.base as i128,
            ticket as i128,
            part as i128,
            l.amo_paid as i128,
            l.amc as i128,
        );
        if b != pp + am + pa || bs != g + t_ || g != pp + pt {
            p.split_errors += 1;
            p.first_split_error.get_or_insert(r.line());
        }
        p.rows += 1;
        p.billed += b;
        p.base += bs;
        p.amo_gross += g;
        p.amo_paid += pp;
        p.amc += am;
        p.patient += pa;
        p.participation += pt;
        p.heavy_forfait += heavy as i128;
        p.excess += excess as i128;

        let (claim, prac) = (r.str(c_claim), r.str(c_prac));
        if p.rows == 1 || prev_claim.0 != claim || prev_claim.1 != prac {
            p.claims += 1;
            prev_claim = (claim.to_string(), prac.to_string());
        }

        let code = r.str(c_code);
        if code.is_empty() {
            return Err(r.err(c_code, "empty act code").into());
        }
        match r.str(c_type) {
            "CCAM" => {
                // Code family: topography (2 letters) + action + access, e.g. `HBQK` for HBQK002.
                let fam: String = code.chars().take(4).collect();
                add_to(&mut p.ccam_families, &fam, &l);
                add_to(&mut p.ccam_acts, code, &l);
            }
            "NGAP" => {
                add_to(&mut p.ngap_letters, code, &l);
            }
            other => {
                return Err(r
                    .err(
                        c_type,
                        format!("act type `{other}` is neither CCAM nor NGAP"),
                    )
                    .into());
            }
        }
        add_to_sorted(&mut p.by_payee, r.str(c_payee), &l);
        add_to_sorted(&mut p.by_amc, r.str(c_amc_no), &l);
    }
    Ok(p)
}

fn read_rejections(path: &Path) -> Result<Rejections, ReportError> {
    let mut t = Tsv::open(path)?;
    let c_code = t.col("code")?;
    let c_reason = t.col("reason")?;
    let c_billed = t.col("billed")?;
    let mut out = Rejections::default();
    while let Some(r) = t.next_row()? {
        let code = r.str(c_code);
        if code.is_empty() {
            return Err(r.err(c_code, "empty rejection code").into());
        }
        let billed = r.cents(c_billed)? as i128;
        if code == ORPHAN_CODE {
            out.orphans += 1;
            out.orphan_billed += billed;
            continue;
        }
        out.claims += 1;
        out.billed += billed;
        let e = out.by_code.entry(code.to_string()).or_default();
        if e.mnemonic.is_empty() {
            e.mnemonic = r.str(c_reason).to_string();
        }
        e.count += 1;
        e.billed += billed;
    }
    Ok(out)
}

fn read_amc_dir(dir: &Path) -> Result<Option<Vec<AmcFile>>, ReportError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ReportError::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut paths = Vec::new();
    for e in rd {
        let e = e.map_err(|source| ReportError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let p = e.path();
        if p.extension().is_some_and(|x| x == "tsv") {
            paths.push(p);
        }
    }
    // Sorted: the page must not depend on directory order.
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        let mut t = Tsv::open(&p)?;
        let c_total = t.col("amc_total")?;
        let mut f = AmcFile {
            file: p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            ..Default::default()
        };
        while let Some(r) = t.next_row()? {
            f.rows += 1;
            f.amc_total += r.cents(c_total)? as i128;
        }
        files.push(f);
    }
    Ok(Some(files))
}
