//! The parser of one official export (one version): rows → [`OfficialCcam`].

use std::collections::HashSet;

use super::cells::*;
use super::csv::CsvReader;
use super::modifiers::{
    Applies, ModAmount, ModifierValue, OfficialModifier, map_conditions, parse_value,
};
use super::tsv::fmt_cents;
use super::version::version_line_named;
use super::{CcamError, Code, OfficialAct, OfficialCcam, OfficialPhase};

pub(crate) const NCOLS: usize = 11;
pub(crate) const C_CODE: usize = 0;
pub(crate) const C_TEXT: usize = 2;
pub(crate) const C_ACTIVITY: usize = 3;
pub(crate) const C_PHASE: usize = 4;
pub(crate) const C_G1: usize = 5;
pub(crate) const C_G2: usize = 6;
pub(crate) const C_RC: usize = 7;
pub(crate) const C_AP: usize = 8;
pub(crate) const C_EXO: usize = 9;
pub(crate) const C_REG: usize = 10;

/// The act being read, with what is needed to attach rows that follow it.
pub(crate) struct OpenAct {
    act: OfficialAct,
    line: usize,
    /// Last activity seen in this act (on the act row or a later row).
    last_activity: Option<u8>,
    /// A modifier list published before any activity row (multi-activity acts whose first row is a
    /// header): attached to the next activity row.
    pending_mods: Option<(String, usize)>,
}

pub(crate) struct Parser<'n> {
    name: &'n str,
    warnings: Vec<String>,
    acts: Vec<OfficialAct>,
    seen: HashSet<Code>,
    chapter: String,
    open: Option<OpenAct>,
    /// (line, act, companion) for every companion read, to report those that are not acts of the file.
    companion_refs: Vec<(usize, Code, Code)>,
    /// Chapter 19.03: the modifiers read so far, and the chapter in force when the last was read.
    modifiers: Vec<OfficialModifier>,
    modifier_chapter: String,
}

impl Parser<'_> {
    fn at(&self, line: usize) -> String {
        format!("{}:{line}", self.name)
    }

    fn warn(&mut self, line: usize, msg: impl AsRef<str>) {
        let w = format!("{}:{line}: {}", self.name, msg.as_ref());
        self.warnings.push(w);
    }

    fn close_act(&mut self) {
        let Some(open) = self.open.take() else { return };
        if let Some((mods, line)) = &open.pending_mods {
            let msg = format!(
                "act {}: modifier list [{mods}] is followed by no activity row; dropped",
                open.act.code_str()
            );
            self.warn(*line, msg);
        }
        if !self.seen.insert(open.act.code) {
            let msg = format!(
                "act {} is listed twice in this file; the second listing is ignored",
                open.act.code_str()
            );
            self.warn(open.line, msg);
            return;
        }
        self.acts.push(open.act);
    }

    /// Reads the activity/phase/tariff part of a row belonging to the open act. Returns the activity
    /// when the row is an activity row.
    fn activity_part(
        &mut self,
        f: &[&str],
        line: usize,
        is_act_row: bool,
    ) -> Result<Option<u8>, CcamError> {
        let (a, p) = (f[C_ACTIVITY], f[C_PHASE]);
        let has_tariff_text = !f[C_G1].is_empty() || !f[C_G2].is_empty();
        let code = self
            .open
            .as_ref()
            .map(|o| o.act.code_str())
            .unwrap_or_default();
        let ap = match (a.parse::<u8>(), p.parse::<u8>()) {
            (Ok(a), Ok(p)) if (1..=9).contains(&a) && p <= 9 => Some((a, p)),
            _ => None,
        };
        let Some((activity, phase)) = ap else {
            if !a.is_empty() || !p.is_empty() {
                self.warn(
                    line,
                    format!(
                        "act {code}: unreadable activity/phase `{a}`/`{p}`; row read as a note"
                    ),
                );
            }
            if has_tariff_text {
                // Note rows sometimes carry `0.00` in the tariff columns (copy artefact): harmless.
                let zero = |s: &str| {
                    matches!(
                        parse_tariff(s),
                        Ok(TariffCell::Empty) | Ok(TariffCell::Cents(0, _))
                    )
                };
                if !(zero(f[C_G1]) && zero(f[C_G2])) {
                    let what = if is_act_row {
                        "act row without activity/phase"
                    } else {
                        "row without activity/phase"
                    };
                    self.warn(
                        line,
                        format!(
                            "act {code}: {what} carries tariff cells `{}`/`{}`; ignored",
                            f[C_G1], f[C_G2]
                        ),
                    );
                }
            }
            return Ok(None);
        };
        if !is_act_row && NOTE_PREFIXES.iter().any(|pfx| f[C_TEXT].starts_with(pfx)) {
            self.warn(
                line,
                format!(
                    "act {code}: activity {activity} phase {phase} found on a note row (`{}`); kept as an activity row",
                    short(f[C_TEXT])
                ),
            );
        }
        let mut cents = [None, None];
        for (k, col) in [C_G1, C_G2].into_iter().enumerate() {
            match parse_tariff(f[col]) {
                Ok(TariffCell::Empty) | Ok(TariffCell::NotCovered) => {}
                Ok(TariffCell::Cents(c, repaired)) => {
                    if repaired {
                        self.warn(
                            line,
                            format!("act {code}: tariff `{}` read as {}", f[col], fmt_cents(c)),
                        );
                    }
                    cents[k] = Some(c);
                }
                Err(reason) => {
                    return Err(CcamError::Tariff {
                        at: self.at(line),
                        code,
                        value: f[col].to_string(),
                        reason,
                    });
                }
            }
        }
        let mut dup = false;
        if let Some(open) = self.open.as_mut() {
            let act = &mut open.act;
            // Act-level cells: the act row wins; a header act row leaves them to its first activity rows.
            for (slot, col) in [
                (&mut act.exo_tm, C_EXO),
                (&mut act.rc, C_RC),
                (&mut act.ap, C_AP),
                (&mut act.regroupement, C_REG),
            ] {
                if slot.is_empty() && !f[col].is_empty() {
                    *slot = f[col].to_string();
                }
            }
            if act
                .phases
                .iter()
                .any(|x| x.activity == activity && x.phase == phase)
            {
                dup = true;
            } else {
                act.phases.push(OfficialPhase {
                    activity,
                    phase,
                    tariff_g1_cents: cents[0],
                    tariff_g2_cents: cents[1],
                });
            }
            open.last_activity = Some(activity);
        }
        if dup {
            self.warn(
                line,
                format!(
                    "act {code}: activity {activity} phase {phase} is listed twice (this row: `{}`); the first is kept",
                    short(f[C_TEXT])
                ),
            );
        }
        Ok(Some(activity))
    }

    fn add_modifiers(&mut self, activity: u8, mods: &str, line: usize) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        let code = open.act.code_str();
        let mut merged = false;
        if let Some((_, cur)) = open.act.modifiers.iter_mut().find(|(a, _)| *a == activity) {
            for c in mods.chars() {
                if !cur.contains(c) {
                    cur.push(c);
                }
            }
            merged = true;
        } else {
            open.act.modifiers.push((activity, mods.to_string()));
        }
        if merged {
            self.warn(
                line,
                format!("act {code}: second modifier list for activity {activity}; merged"),
            );
        }
    }

    /// A modifier-list cell `[…]` of the open act, on a row whose own activity (if any) is `row_activity`
    /// and whose previous activity was `before`.
    fn modifier_list(
        &mut self,
        cell: &str,
        line: usize,
        before: Option<u8>,
        row_activity: Option<u8>,
    ) {
        let (mods, bad) = parse_modifier_list(cell);
        let code = self
            .open
            .as_ref()
            .map(|o| o.act.code_str())
            .unwrap_or_default();
        for b in bad {
            self.warn(
                line,
                format!(
                    "act {code}: `{b}` in modifier list `{}` is not a modifier; skipped",
                    short(cell)
                ),
            );
        }
        // The list is published once per act, on the line below the act's first row: it belongs to the
        // activity row just above; when the act row is a header without activity, to the first activity
        // row (which may be this very row).
        match before.or(row_activity) {
            Some(a) => self.add_modifiers(a, &mods, line),
            None => {
                if let Some(open) = self.open.as_mut() {
                    open.pending_mods = Some((mods, line));
                }
            }
        }
    }

    /// A parenthesised code list `(ZZLP025, HBQK061, YYYY614)` in the text column of a row of the open act.
    fn companion_list(&mut self, text: &str, line: usize) {
        let t = text.trim();
        let Some(inner) = t.strip_prefix('(').and_then(|x| x.strip_suffix(')')) else {
            return;
        };
        let toks: Vec<&str> = inner
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .collect();
        // `(Forfait Sécurité Dermatologie)` names a forfait, not codes: a note.
        if !toks.iter().any(|x| is_code(x)) {
            return;
        }
        let Some(open) = self.open.as_mut() else {
            return;
        };
        let code = open.act.code_str();
        let mut bad = Vec::new();
        for tok in toks {
            match to_code(tok) {
                Some(c) => {
                    if !open.act.companions.contains(&c) {
                        open.act.companions.push(c);
                        self.companion_refs.push((line, open.act.code, c));
                    }
                }
                None => bad.push(tok.to_string()),
            }
        }
        for b in bad {
            self.warn(
                line,
                format!("act {code}: `{b}` in companion list is not a CCAM code (typo?); skipped"),
            );
        }
    }

    /// A row of chapter 19.03: a modifier row, a conditional value row or a note.
    fn modifier_row(&mut self, f: &[&str; NCOLS], line: usize) {
        let code = f[C_CODE];
        let mut vals = [None, None];
        for (k, col) in [C_G1, C_G2].into_iter().enumerate() {
            match parse_value(f[col]) {
                Ok(Some((v, fraction))) => {
                    if fraction {
                        let pct = match v {
                            ModAmount::Pct(bp) => liquidator_core::money::fmt_pct(bp),
                            ModAmount::Fixed(_) => String::new(),
                        };
                        self.warn(
                            line,
                            format!(
                                "modifier value `{}` (grid {}) read as +{pct} % (a percentage saved as a fraction)",
                                f[col],
                                k + 1
                            ),
                        );
                    }
                    vals[k] = Some(v);
                }
                Ok(None) => {}
                Err(e) => self.warn(
                    line,
                    format!(
                        "unreadable modifier value `{}` (grid {}): {e}; ignored",
                        f[col],
                        k + 1
                    ),
                ),
            }
        }
        let has_value = vals.iter().any(Option::is_some);
        let value = |applies| ModifierValue {
            applies,
            g1: vals[0],
            g2: vals[1],
            text: f[C_TEXT].to_string(),
            notes: Vec::new(),
        };
        let mut chars = code.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_uppercase() || c.is_ascii_digit() => {
                if !has_value {
                    self.warn(line, format!("modifier {c} has no value; ignored"));
                    return;
                }
                if let Some(prev) = self.modifiers.iter().find(|m| m.code == c as u8) {
                    let msg = format!(
                        "modifier {c} is defined twice (first at line {}); the first is kept",
                        prev.line
                    );
                    self.warn(line, msg);
                    return;
                }
                self.modifiers.push(OfficialModifier {
                    code: c as u8,
                    line,
                    values: vec![value(Applies::Default)],
                });
                self.modifier_chapter = self.chapter.clone();
            }
            (None, _) => {
                let current = self
                    .modifiers
                    .last_mut()
                    .filter(|_| self.modifier_chapter == self.chapter);
                match (current, has_value) {
                    (Some(m), true) => m.values.push(value(Applies::Unmapped)),
                    (Some(m), false) => {
                        if let Some(v) = m.values.last_mut()
                            && !f[C_TEXT].is_empty()
                        {
                            v.notes.push(f[C_TEXT].to_string());
                        }
                    }
                    // Introductory text of a sub-chapter (before its first modifier).
                    (None, false) => {}
                    (None, true) => self.warn(
                        line,
                        format!(
                            "modifier value row outside any modifier (`{}`); ignored",
                            short(f[C_TEXT])
                        ),
                    ),
                }
            }
            _ => self.warn(
                line,
                format!(
                    "unrecognised code cell `{}` in chapter 19.03; ignored",
                    short(code)
                ),
            ),
        }
    }

    fn row(&mut self, rec: &[String], line: usize) -> Result<(), CcamError> {
        if rec.len() > NCOLS && rec[NCOLS..].iter().any(|c| !c.trim().is_empty()) {
            self.warn(
                line,
                format!(
                    "{} cells instead of {NCOLS}; the extra cells are ignored",
                    rec.len()
                ),
            );
        }
        let exo_fixed: String;
        let mut f = [""; NCOLS];
        for (slot, cell) in f.iter_mut().zip(rec) {
            *slot = cell.trim();
        }
        if let Some(fixed) = repair_exo(f[C_EXO]) {
            self.warn(line, format!("Exo TM `{}` read as `{fixed}`", f[C_EXO]));
            exo_fixed = fixed;
            f[C_EXO] = &exo_fixed;
        }
        if f.iter().all(|c| c.is_empty()) {
            return Ok(());
        }
        let c0 = f[C_CODE];
        // The code cell sometimes holds the modifier list on its next line (`"JANH798\n[A]"`) or trailing
        // blank lines (`"DGKA268\n\n"`).
        let (first, rest) = match c0.split_once('\n') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (c0, ""),
        };

        // Act row.
        if let Some(code) = to_code(first) {
            self.close_act();
            self.open = Some(OpenAct {
                act: OfficialAct {
                    code,
                    label: f[C_TEXT].to_string(),
                    exo_tm: f[C_EXO].to_string(),
                    rc: f[C_RC].to_string(),
                    ap: f[C_AP].to_string(),
                    regroupement: f[C_REG].to_string(),
                    chapter: self.chapter.clone(),
                    ..OfficialAct::default()
                },
                line,
                last_activity: None,
                pending_mods: None,
            });
            let act_activity = self.activity_part(&f, line, true)?;
            if rest.starts_with('[') {
                self.modifier_list(rest, line, None, act_activity);
            } else if !rest.is_empty() {
                self.warn(
                    line,
                    format!(
                        "act {first}: unexpected text `{}` after the code; ignored",
                        short(rest)
                    ),
                );
            }
            return Ok(());
        }

        // Chapter row: a number, a title, nothing else. A one-level number must also follow the previous
        // top level, because chapter 19.03 (the modifier definitions) lists modifiers `9`, `6`, `4`… in the
        // code column.
        let rest_blank = f[C_ACTIVITY..].iter().all(|c| c.is_empty());
        if rest_blank
            && !f[C_TEXT].is_empty()
            && let Some(ch) = normalize_chapter(c0)
        {
            let top_ok = ch.contains('.') || chapter_top(&ch) > chapter_top(&self.chapter);
            if top_ok {
                if ch != c0 {
                    self.warn(line, format!("chapter number `{c0}` read as `{ch}`"));
                }
                self.close_act();
                self.chapter = ch;
                return Ok(());
            }
        }

        // Chapter 19.03 defines the modifiers themselves (code column = the modifier, tariffs = `+20%` or
        // an amount): the modifier values (`modifiers.rs`).
        if self.open.is_none() && in_chapter(&self.chapter, "19.03") {
            self.modifier_row(&f, line);
            return Ok(());
        }

        let is_list = first.starts_with('[');
        if !c0.is_empty() && !is_list {
            self.warn(
                line,
                format!(
                    "unrecognised code cell `{}`; row read as a continuation row",
                    short(c0)
                ),
            );
        }
        if self.open.is_none() {
            let has_activity = !f[C_ACTIVITY].is_empty() || !f[C_PHASE].is_empty();
            if is_list || has_activity {
                self.warn(
                    line,
                    format!("row outside any act (`{}`); ignored", short(&f.join(","))),
                );
            }
            return Ok(());
        }
        let before = self.open.as_ref().and_then(|o| o.last_activity);
        let row_activity = self.activity_part(&f, line, false)?;
        if is_list {
            self.modifier_list(c0, line, before, row_activity);
        } else if let Some(a) = row_activity
            && let Some((mods, mline)) = self.open.as_mut().and_then(|o| o.pending_mods.take())
        {
            self.add_modifiers(a, &mods, mline);
        }
        self.companion_list(f[C_TEXT], line);
        Ok(())
    }
}

/// Parses one official CCAM export. `name` (usually the file name) prefixes every error and warning.
pub fn parse_official(bytes: &[u8], name: &str) -> Result<OfficialCcam, CcamError> {
    let (version, applicable) = version_line_named(bytes, name)?;
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(body).map_err(|e| {
        let line = 1 + body
            .get(..e.valid_up_to())
            .unwrap_or_default()
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        CcamError::Csv {
            at: format!("{name}:{line}"),
            reason: "invalid UTF-8".into(),
        }
    })?;
    let csv_err = |(line, reason): (usize, String)| CcamError::Csv {
        at: format!("{name}:{line}"),
        reason,
    };
    let mut rd = CsvReader::new(text);
    let mut rec = Vec::with_capacity(NCOLS);
    // Line 1 (version) was read above; the record after it is the header.
    rd.read_record(&mut rec).map_err(csv_err)?;
    let hline = match rd.read_record(&mut rec).map_err(csv_err)? {
        Some(l) => l,
        None => {
            return Err(CcamError::Header {
                at: format!("{name}:2"),
                reason: "file ends after line 1".into(),
            });
        }
    };
    check_header(&rec).map_err(|reason| CcamError::Header {
        at: format!("{name}:{hline}"),
        reason,
    })?;
    let mut p = Parser {
        name,
        warnings: Vec::new(),
        acts: Vec::new(),
        seen: HashSet::new(),
        chapter: String::new(),
        open: None,
        companion_refs: Vec::new(),
        modifiers: Vec::new(),
        modifier_chapter: String::new(),
    };
    while let Some(line) = rd.read_record(&mut rec).map_err(csv_err)? {
        p.row(&rec, line)?;
    }
    p.close_act();
    // A well-formed code that names no act of the same file is most likely a typo (`HBQH061` next to
    // `HBQK040`, `HBQK303`): kept as published, reported.
    let codes: HashSet<Code> = p.acts.iter().map(|a| a.code).collect();
    let refs = std::mem::take(&mut p.companion_refs);
    for (line, act, c) in refs {
        if !codes.contains(&c) {
            let msg = format!(
                "act {}: companion `{}` is not an act of this file (typo?); kept",
                code_string(&act),
                code_string(&c)
            );
            p.warn(line, msg);
        }
    }
    if p.acts.is_empty() {
        return Err(CcamError::Content {
            at: format!("{name}:{hline}"),
            reason: "no act row found (not a CCAM export?)".into(),
        });
    }
    map_conditions(&mut p.modifiers);
    Ok(OfficialCcam {
        version,
        applicable,
        acts: p.acts,
        modifiers: p.modifiers,
        warnings: p.warnings,
    })
}

/// The columns are read by position, so the header must be the expected one (names compared loosely:
/// the grid columns' long titles vary between versions, e.g. `OPTAM-CO` / `OPTAM-ACO`).
pub(crate) fn check_header(rec: &[String]) -> Result<(), String> {
    let norm = |i: usize| -> String {
        rec.get(i)
            .map(|s| {
                s.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
            })
            .unwrap_or_default()
    };
    let expect: [(usize, &str); 9] = [
        (C_CODE, "code"),
        (C_TEXT, "texte"),
        (C_ACTIVITY, "activit"),
        (C_PHASE, "phase"),
        (C_G1, "secteur 1"),
        (C_G2, "hors secteur 1"),
        (C_AP, "accord"),
        (C_EXO, "exo"),
        (C_REG, "regroupement"),
    ];
    for (i, word) in expect {
        if !norm(i).contains(word) {
            return Err(format!(
                "column {} is `{}`, expected it to mention `{word}`",
                i + 1,
                short(&norm(i))
            ));
        }
    }
    Ok(())
}
