//! Tests of the official import: the three real files, the history, synthetic inputs.

use super::cells::*;
use super::history::*;
use super::tsv::*;
use super::version::*;
use super::*;
use rust_decimal::Decimal;
use std::collections::BTreeSet;
use std::sync::OnceLock;

const V67: &[u8] = include_bytes!("../../../../fixtures/ccam/ccam_v67_applicable_2021-04-26.csv");
const V78: &[u8] = include_bytes!("../../../../fixtures/ccam/ccam_v78_applicable_2025-02-01.csv");
const V81: &[u8] = include_bytes!("../../../../fixtures/ccam/ccam_v81_applicable_2026-01-01.csv");
const N67: &str = "ccam_v67_applicable_2021-04-26.csv";
const N78: &str = "ccam_v78_applicable_2025-02-01.csv";
const N81: &str = "ccam_v81_applicable_2026-01-01.csv";

/// The three real files, parsed once for the whole test run.
fn real() -> &'static [OfficialCcam; 3] {
    static R: OnceLock<[OfficialCcam; 3]> = OnceLock::new();
    R.get_or_init(|| {
        [
            parse_official(V67, N67).expect("v67 parses"),
            parse_official(V78, N78).expect("v78 parses"),
            parse_official(V81, N81).expect("v81 parses"),
        ]
    })
}

fn history() -> &'static CcamHistory {
    static H: OnceLock<CcamHistory> = OnceLock::new();
    H.get_or_init(|| build_history(real().to_vec()).expect("history builds"))
}

fn c(s: &str) -> Code {
    to_code(s).expect("test code")
}

fn act<'a>(v: &'a OfficialCcam, code: &str) -> &'a OfficialAct {
    v.acts
        .iter()
        .find(|a| a.code == c(code))
        .expect("act present")
}

fn phase(a: &OfficialAct, activity: u8, ph: u8) -> (Option<i64>, Option<i64>) {
    let p = a
        .phases
        .iter()
        .find(|p| p.activity == activity && p.phase == ph)
        .expect("phase present");
    (p.tariff_g1_cents, p.tariff_g2_cents)
}

fn mods(a: &OfficialAct) -> Vec<(u8, &str)> {
    a.modifiers.iter().map(|(k, m)| (*k, m.as_str())).collect()
}

/// (valid_from, valid_to, version, g1, g2)
type Period = (u32, Option<u32>, u32, Option<i64>, Option<i64>);

fn tariff_rows(code: &str, activity: u8, ph: u8) -> Vec<Period> {
    history()
        .tariffs
        .iter()
        .filter(|r| r.code == c(code) && r.activity == activity && r.phase == ph)
        .map(|r| {
            (
                r.valid_from,
                r.valid_to,
                r.version,
                r.tariff_g1,
                r.tariff_g2,
            )
        })
        .collect()
}

fn act_rows(code: &str) -> Vec<&'static ActRow> {
    history()
        .acts
        .iter()
        .filter(|r| r.code == c(code))
        .collect()
}

// ---- real data, one version ------------------------------------------------------------------

#[test]
fn version_lines_of_the_real_files() {
    assert_eq!(version_line(V67).unwrap(), (67, 20210426)); // BOM, "applicable au 26/04/2021"
    assert_eq!(version_line(V78).unwrap(), (78, 20250201)); // BOM
    assert_eq!(version_line(V81).unwrap(), (81, 20260101)); // no BOM
    let [a, b, c] = real();
    assert_eq!((a.version, a.applicable), (67, 20210426));
    assert_eq!((b.version, b.applicable), (78, 20250201));
    assert_eq!((c.version, c.applicable), (81, 20260101));
    assert_eq!(
        [a.acts.len(), b.acts.len(), c.acts.len()],
        [8179, 8242, 8257]
    );
}

#[test]
fn hbgd036_v81() {
    let a = act(&real()[2], "HBGD036");
    assert_eq!(
        a.label,
        "Avulsion d'1 dent permanente sur arcade sans alvéolectomie"
    );
    assert_eq!(phase(a, 1, 0), (Some(3900), Some(3900)));
    assert_eq!(a.phases.len(), 1);
    assert_eq!(mods(a), vec![(1, "FU")]);
    assert_eq!(a.companions, vec![c("ZZLP025"), c("HBQK061"), c("YYYY614")]);
    assert_eq!((a.exo_tm.as_str(), a.regroupement.as_str()), ("1-7", "ASC"));
    assert!((a.rc.as_str(), a.ap.as_str()) == ("", ""));
}

#[test]
fn ahqb024_v81_two_grids_and_list_row_carrying_a_note() {
    let a = act(&real()[2], "AHQB024");
    assert_eq!(phase(a, 1, 0), (Some(6705), Some(6066)));
    // `"[F, P, S, U]",,Formation : …` : modifier list and note on the same row.
    assert_eq!(mods(a), vec![(1, "FPSU")]);
    assert_eq!(a.chapter, "01.01.01.01");
    assert_eq!(a.exo_tm, "2");
}

#[test]
fn yyyy066_list_row_is_also_the_anaesthesia_row() {
    let a = act(&real()[2], "YYYY066");
    // `"[J, K, T, 7, 3]",,anesthésie,4,0,31.35,31.35,,,1,ADA`
    assert_eq!(mods(a), vec![(1, "JKT73")]);
    assert_eq!(phase(a, 1, 0), (Some(17145), Some(8360)));
    assert_eq!(phase(a, 4, 0), (Some(3135), Some(3135)));
    assert_eq!(a.regroupement, "ADC"); // the act row's, not the anaesthesia row's ADA
    assert_eq!(a.chapter, "19.02.03");
}

#[test]
fn header_acts_attach_their_list_to_the_first_activity() {
    let v = &real()[2];
    // `GBBA001` header row, then `"[A, J, K, T, 7, 3]",,Activité 1 : …,1,0,104.50,…`
    let a = act(v, "GBBA001");
    assert_eq!(mods(a), vec![(1, "AJKT73")]);
    assert_eq!(phase(a, 1, 0), (Some(10450), Some(10450)));
    assert_eq!((a.exo_tm.as_str(), a.regroupement.as_str()), ("1", "ADC")); // from the activity row
    // `BDLA003` header, list on a note row, then `Phase 1 : …,1,1` / `anesthésie,4,1` / `Phase 2,1,2`.
    let a = act(v, "BDLA003");
    assert_eq!(mods(a), vec![(1, "A6783")]);
    assert_eq!(phase(a, 1, 1), (Some(30484), Some(30484)));
    assert_eq!(phase(a, 4, 1), (Some(14745), Some(14745)));
    assert_eq!(phase(a, 1, 2), (Some(6760), Some(6760)));
    // Header act row carrying only RC.
    assert_eq!(act(v, "DASF074").rc, "RC");
}

#[test]
fn phases_other_than_zero_and_activities_one_to_five() {
    let v = &real()[2];
    let all: BTreeSet<(u8, u8)> = v
        .acts
        .iter()
        .flat_map(|a| a.phases.iter().map(|p| (p.activity, p.phase)))
        .collect();
    let acts: BTreeSet<u8> = all.iter().map(|x| x.0).collect();
    let phases: BTreeSet<u8> = all.iter().map(|x| x.1).collect();
    assert_eq!(acts, BTreeSet::from([1, 2, 3, 4, 5]));
    assert_eq!(phases, BTreeSet::from([0, 1, 2, 3]));
    // Extracorporeal circulation is activity 5 (`circulation extracorporelle [CEC]`).
    assert_eq!(phase(act(v, "DBPA006"), 5, 0), (Some(31350), Some(31350)));
}

#[test]
fn multi_line_quoted_label_and_physical_line_numbers() {
    let v = &real()[2];
    let a = act(v, "EQLA665");
    assert!(
        a.label
            .starts_with("Pose d’un dispositif d’assistance circulatoire mécanique temporaire")
    );
    assert!(a.label.contains("\nIndication : conforme aux indications"));
    assert!(
        !a.label.ends_with(' '),
        "trailing blank line of the cell trimmed"
    );
    assert_eq!(phase(a, 1, 0), (Some(155190), Some(155190)));
    assert_eq!(phase(a, 4, 0), (Some(51636), Some(51636)));
    // Warnings point at the physical line (quoted cells spanning lines counted): line 20676 of v81
    // is JQGD008's list row `"[F, P, S, U, K, T]",,"(AFLB010, …, YYY603, …)"`.
    assert!(
        v.warnings
            .iter()
            .any(|w| w.starts_with(&format!("{N81}:20676: act JQGD008: `YYY603`"))),
        "{:?}",
        v.warnings
    );
}

#[test]
fn code_cell_holding_the_modifier_list() {
    // v67 line 17205: `"JANH798\n[A]",,"Destruction de tumeur rénale …",1,0,204,204,,,1,ATM`
    let a = act(&real()[0], "JANH798");
    assert_eq!(mods(a), vec![(1, "A")]);
    assert_eq!(phase(a, 1, 0), (Some(20400), Some(20400)));
    // v78 `"DGKA268\n\n"`: blank lines after the code.
    assert!(real()[1].acts.iter().any(|a| a.code == c("DGKA268")));
}

#[test]
fn float_tariffs_rounded_and_comma_tariffs_read() {
    let v67 = &real()[0];
    // `33.439999999999998` in v67.
    assert_eq!(phase(act(v67, "HBGD036"), 1, 0), (Some(3344), Some(3344)));
    // `226,88` (decimal comma) and `333.23000000000002` / `304,15` mixed on one row.
    assert_eq!(phase(act(v67, "ADLA001"), 1, 0), (Some(22688), Some(22688)));
    assert_eq!(phase(act(v67, "HLNC003"), 1, 0), (Some(33323), Some(30415)));
    // `248, 15` in v81.
    assert_eq!(
        phase(act(&real()[2], "ADGA724"), 1, 0),
        (Some(24815), Some(24815))
    );
    assert!(
        real()[2]
            .warnings
            .iter()
            .any(|w| w.contains("ADGA724: tariff `248, 15` read as 248.15"))
    );
    // "Non pris en charge" is no tariff, not zero.
    assert_eq!(phase(act(&real()[2], "AHQP001"), 1, 0), (None, None));
}

#[test]
fn rounding_and_tariff_cells() {
    assert_eq!(
        parse_tariff("33.439999999999998"),
        Ok(TariffCell::Cents(3344, false))
    );
    assert_eq!(parse_tariff("48"), Ok(TariffCell::Cents(4800, false)));
    assert_eq!(
        parse_tariff("0.005"),
        Ok(TariffCell::Cents(1, false)),
        "half-up"
    );
    assert_eq!(parse_tariff("0.0049999"), Ok(TariffCell::Cents(0, false)));
    assert_eq!(
        parse_tariff("2.675"),
        Ok(TariffCell::Cents(268, false)),
        "no binary-float drift"
    );
    assert_eq!(parse_tariff("104.5"), Ok(TariffCell::Cents(10450, false)));
    assert_eq!(parse_tariff(" 0.00 "), Ok(TariffCell::Cents(0, false)));
    assert_eq!(parse_tariff("226,88"), Ok(TariffCell::Cents(22688, true)));
    assert_eq!(parse_tariff("248, 15"), Ok(TariffCell::Cents(24815, true)));
    assert_eq!(parse_tariff(""), Ok(TariffCell::Empty));
    assert_eq!(
        parse_tariff("Non pris en charge"),
        Ok(TariffCell::NotCovered)
    );
    for bad in [
        "+20%",
        "1.2.3",
        "1,2.3",
        "-5",
        ".5",
        "5.",
        "abc",
        "1e3",
        "99999999999999999999999999999999",
    ] {
        assert!(parse_tariff(bad).is_err(), "{bad}");
    }
    assert_eq!(
        super::decimal::to_cents(Decimal::MAX),
        None,
        "no overflow panic"
    );
}

#[test]
fn exo_tm_repairs() {
    assert_eq!(repair_exo("1-7"), None);
    assert_eq!(repair_exo("\"2-7").as_deref(), Some("2-7"));
    assert_eq!(repair_exo("5 -7").as_deref(), Some("5-7"));
    assert_eq!(repair_exo("2021-07-01").as_deref(), Some("1-7"));
    let v67 = &real()[0];
    assert_eq!(act(v67, "HBGD300").exo_tm, "1-7");
    assert_eq!(act(v67, "HBQK093").exo_tm, "2-7");
    assert_eq!(act(v67, "DZQM006").exo_tm, "2-7");
    assert_eq!(act(v67, "ZZQX603").exo_tm, "5-7");
    assert!(
        v67.warnings
            .iter()
            .any(|w| w == &format!("{N67}:13008: Exo TM `2021-07-01` read as `1-7`"))
    );
}

#[test]
fn modifier_list_cells() {
    assert_eq!(parse_modifier_list("[F, P, S, U]"), ("FPSU".into(), vec![]));
    assert_eq!(parse_modifier_list("[F,U]"), ("FU".into(), vec![]));
    assert_eq!(
        parse_modifier_list("[A, J, K, T, 7, F, P, S, U ]"),
        ("AJKT7FPSU".into(), vec![])
    );
    assert_eq!(parse_modifier_list("[F, F, U]"), ("FU".into(), vec![]));
    assert_eq!(
        parse_modifier_list("[F, xx, u]"),
        ("F".into(), vec!["xx".into(), "u".into()])
    );
}

#[test]
fn chapters_normalised_and_complement_chapters() {
    assert_eq!(
        normalize_chapter("18.010000000000002").as_deref(),
        Some("18.01")
    );
    assert_eq!(
        normalize_chapter("1.0600000000000001").as_deref(),
        Some("01.06")
    );
    assert_eq!(normalize_chapter("1.01").as_deref(), Some("01.01"));
    assert_eq!(normalize_chapter("1.1").as_deref(), Some("01.10"));
    assert_eq!(
        normalize_chapter("11.02.05.01  ").as_deref(),
        Some("11.02.05.01")
    );
    assert_eq!(normalize_chapter("19").as_deref(), Some("19"));
    assert_eq!(normalize_chapter("NT_09"), None);
    assert_eq!(normalize_chapter("1..2"), None);
    assert!(
        in_chapter("18.02.01", "18.02")
            && in_chapter("18.02", "18.02")
            && !in_chapter("18.020", "18.02")
    );
    let v78 = &real()[1];
    assert_eq!(act(v78, "ZZLP025").chapter, "18.01");
    assert!(
        v78.warnings
            .iter()
            .any(|w| w.ends_with("chapter number `18.010000000000002` read as `18.01`"))
    );
    // Modifier definitions of chapter 19.03 (`9`, `4`, `F` …) are not chapters nor acts.
    let last = real()[2]
        .acts
        .last()
        .map(|a| a.chapter.clone())
        .unwrap_or_default();
    assert!(in_chapter(&last, "19.02"), "{last}");
}

#[test]
fn source_typos_and_odd_rows_are_warnings() {
    let w67 = &real()[0].warnings;
    let has = |w: &[String], s: &str| w.iter().any(|x| x.contains(s));
    assert!(has(w67, &format!("{N67}:4938: unrecognised code cell `*`")));
    assert!(has(
        w67,
        &format!("{N67}:10453: unrecognised code cell `NT_09`")
    ));
    assert!(has(w67, "act JJQX004: activity 1 phase 0 is listed twice"));
    assert!(has(
        &real()[2].warnings,
        "act HBFD032: companion `HBQH061` is not an act of this file"
    ));
    // The `*` row is DBPA005's anaesthesia row.
    assert_eq!(
        phase(act(&real()[0], "DBPA005"), 4, 0),
        (Some(33372), Some(33372))
    );
    // YYY603 is skipped, the rest of the list kept.
    let a = act(&real()[2], "JQGD012");
    assert!(
        a.companions.contains(&c("YYYY740"))
            && a.companions.iter().all(|x| is_code(&code_string(x)))
    );
    // `(Forfait Sécurité Dermatologie)` is a note, not a list, and not a warning.
    assert_eq!(
        act(&real()[2], "BAFA012").companions,
        vec![c("ZZHA001"), c("ZZLP025")]
    );
    assert!(!has(&real()[2].warnings, "Forfait"));
}

// ---- real data, history ----------------------------------------------------------------------

#[test]
fn history_tariff_boundaries() {
    let (d67, d78, d81) = (20210426, 20250201, 20260101);
    assert_eq!(
        tariff_rows("AHQB024", 1, 0),
        vec![
            (d67, Some(d78), 67, Some(6480), Some(5936)),
            (d78, Some(d81), 78, Some(6593), Some(6001)),
            (d81, None, 81, Some(6705), Some(6066)),
        ]
    );
    assert_eq!(
        tariff_rows("YYYY066", 1, 0),
        vec![
            (d67, Some(d78), 67, Some(16449), Some(8360)),
            (d78, Some(d81), 78, Some(16797), Some(8360)),
            (d81, None, 81, Some(17145), Some(8360)),
        ]
    );
    // Unchanged in v81: v78's row stays open and keeps version 78.
    assert_eq!(
        tariff_rows("HBGD036", 1, 0),
        vec![
            (d67, Some(d78), 67, Some(3344), Some(3344)),
            (d78, None, 78, Some(3900), Some(3900))
        ]
    );
    // Never changed: one row, first version.
    assert_eq!(
        tariff_rows("YYYY066", 4, 0),
        vec![(d67, None, 67, Some(3135), Some(3135))]
    );
}

#[test]
fn history_acts_appear_and_disappear() {
    // HBLD425: in v67 and v78, gone from v81.
    let r = act_rows("HBLD425");
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].valid_from, r[0].valid_to, r[0].version),
        (20210426, Some(20260101), 67)
    );
    assert_eq!(
        tariff_rows("HBLD425", 1, 0).last().map(|x| x.1),
        Some(Some(20260101))
    );
    // HNEH900: gone from v78.
    let r = act_rows("HNEH900");
    assert_eq!((r[0].valid_from, r[0].valid_to), (20210426, Some(20250201)));
    // AANB256: new in v81.
    let r = act_rows("AANB256");
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].valid_from, r[0].valid_to, r[0].version),
        (20260101, None, 81)
    );
    assert_eq!(
        tariff_rows("AANB256", 1, 0),
        vec![(20260101, None, 81, Some(95701), Some(95701))]
    );
    // HBGD036's regroupement changed ADC → ASC in v78: two act rows.
    let r = act_rows("HBGD036");
    let regs: Vec<_> = r
        .iter()
        .map(|x| (x.regroupement.as_str(), x.valid_from, x.valid_to))
        .collect();
    assert_eq!(
        regs,
        vec![("ADC", 20210426, Some(20250201)), ("ASC", 20250201, None)]
    );
}

#[test]
fn history_modifiers_companions_complement() {
    let h = history();
    let m: Vec<_> = h
        .modifiers_allowed
        .iter()
        .filter(|r| r.code == c("YYYY066"))
        .map(|r| (r.activity, r.valid_from, r.valid_to, r.modifiers.as_str()))
        .collect();
    assert_eq!(
        m,
        vec![
            (1, 20210426, Some(20250201), "JKT7"),
            (1, 20250201, None, "JKT73")
        ]
    );
    let comp: Vec<_> = h
        .companions
        .iter()
        .filter(|r| r.code == c("HBGD036"))
        .collect();
    assert_eq!(comp.len(), 1);
    assert_eq!(
        (comp[0].companions.as_str(), comp[0].valid_to),
        ("ZZLP025,HBQK061,YYYY614", None)
    );
    let flag = |code: &str| act_rows(code).last().map(|r| r.complement);
    assert_eq!(flag("ZZLP025"), Some(true)); // named in companion lists
    assert_eq!(flag("YYYY066"), Some(true)); // chapter 19.02
    assert_eq!(flag("HBGD036"), Some(false));
    // Rows sorted by key then valid_from, periods of one key contiguous or disjoint, never overlapping.
    for w in h.tariffs.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let ka = (a.code, a.activity, a.phase);
        let kb = (b.code, b.activity, b.phase);
        assert!(
            ka < kb || (ka == kb && a.valid_to.is_some_and(|t| t <= b.valid_from)),
            "{a:?} {b:?}"
        );
    }
}

#[test]
fn history_input_order_does_not_matter_and_dates_must_differ() {
    let [a, b, c] = real().clone();
    let h = build_history(vec![c.clone(), a.clone(), b.clone()]).unwrap();
    assert_eq!(&h, history());
    assert_eq!(
        h.versions,
        vec![(67, 20210426), (78, 20250201), (81, 20260101)]
    );
    let mut c2 = c.clone();
    c2.applicable = b.applicable;
    let e = build_history(vec![a, b, c2]).unwrap_err();
    assert!(
        matches!(
            e,
            CcamError::DuplicateApplicable {
                first: 78,
                second: 81,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("2025-02-01"));
}

#[test]
fn writes_the_real_history() {
    let dir = std::env::temp_dir().join(format!("ccam_official_test_{}", std::process::id()));
    write_tsv(history(), &dir).unwrap();
    let acts = std::fs::read_to_string(dir.join("ccam_acts.tsv")).unwrap();
    let tariffs = std::fs::read_to_string(dir.join("ccam_tariffs.tsv")).unwrap();
    assert_eq!(acts.lines().count(), history().acts.len() + 1);
    assert_eq!(tariffs.lines().count(), history().tariffs.len() + 1);
    assert!(tariffs.contains("\nAHQB024\t1\t0\t2026-01-01\t\t81\t67.05\t60.66\n"));
    assert!(tariffs.contains("\nHBGD036\t1\t0\t2021-04-26\t2025-02-01\t67\t33.44\t33.44\n"));
    assert!(tariffs.contains("\nAHQP001\t1\t0\t2021-04-26\t\t67\t\t\n"));
    // Every line has the header's column count: no tab or newline leaked from a label.
    assert!(acts.lines().all(|l| l.split('\t').count() == 10));
    let line = acts
        .lines()
        .find(|l| l.starts_with("EQLA665\t2026"))
        .unwrap();
    assert!(line.contains("par abord vasculaire  Indication : conforme"));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- synthetic inputs ------------------------------------------------------------------------

const HEAD: &str = "CNAM - CCAM version 5 applicable 02/03/2024,,,,,,,,,,\n\
    Code,,Texte,Activité,Phase,\"Tarif\nSecteur 1 / adhérent OPTAM/OPTAM-ACO\n(en euro)\",\"Tarif\nHors secteur 1 / hors adhérent OPTAM/OPTAM-ACO\n(en euro)\",Rembt. ss Cdtions,Accord Préalable,Exo. TM,Regroupement\n";

fn file(body: &str) -> Vec<u8> {
    format!("{HEAD}{body}").into_bytes()
}

const BODY: &str = "1,,CHAPITRE,,,,,,,,\n\
    AAAA001,,\"Acte \"\"un\"\"\nsur deux lignes\",1,0,10.005,9,,,1,ADC\n\
    \"[F, U]\",,\"(BBBB002, XXX12)\",,,,,,,,\n\
    ,,anesthésie,4,0,,,,,1,ADA\n\
    \n\
    18.02,,GESTES,,,,,,,,\n\
    BBBB002,,Geste,1,0,Non pris en charge,1,,,1,ADC\n";

#[test]
fn synthetic_file() {
    let v = parse_official(&file(BODY), "t.csv").unwrap();
    assert_eq!((v.version, v.applicable), (5, 20240302));
    let a = &v.acts[0];
    assert_eq!(a.label, "Acte \"un\"\nsur deux lignes");
    assert_eq!(a.chapter, "1");
    assert_eq!(phase(a, 1, 0), (Some(1001), Some(900)));
    assert_eq!(phase(a, 4, 0), (None, None));
    assert_eq!(mods(a), vec![(1, "FU")]);
    assert_eq!(a.companions, vec![c("BBBB002")]);
    // The header spans lines 2-6; AAAA001 is at lines 8-9, its list row at line 10.
    assert_eq!(
        v.warnings,
        vec![
            "t.csv:10: act AAAA001: `XXX12` in companion list is not a CCAM code (typo?); skipped"
        ]
    );
    assert_eq!(v.acts[1].chapter, "18.02");
    assert_eq!(phase(&v.acts[1], 1, 0), (None, Some(100)));
    // BOM and CRLF give the same result.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(file(BODY).iter().copied());
    assert_eq!(parse_official(&bom, "t.csv").unwrap(), v);
    let crlf = String::from_utf8(file(BODY)).unwrap().replace('\n', "\r\n");
    assert_eq!(parse_official(crlf.as_bytes(), "t.csv").unwrap(), v);
}

#[test]
fn synthetic_errors_carry_name_and_line() {
    let e = parse_official(b"hello,,\nCode", "x.csv").unwrap_err();
    assert!(
        matches!(e, CcamError::VersionLine { .. }) && e.to_string().starts_with("x.csv:1: "),
        "{e}"
    );
    assert!(version_line(b"CNAM - CCAM version 81 applicable 31/02/2026").is_err());
    assert!(version_line(b"CNAM - CCAM version applicable 01/02/2026").is_err());
    assert!(version_line(b"").is_err());
    assert_eq!(
        version_line(b"\xEF\xBB\xBF\"CNAM - CCAM version 7 applicable au 1/2/2020\",,\r\n")
            .unwrap(),
        (7, 20200201)
    );

    let e = parse_official(&file("AAAA001,,A,1,0,+20%,1,,,1,ADC\n"), "x.csv").unwrap_err();
    assert_eq!(
        e.to_string(),
        "x.csv:7: act AAAA001: unreadable tariff `+20%`: not a decimal amount"
    );
    let e = parse_official(&file(",,\"x\n\nAAAA001,,A,1,0,1,1,,,1,ADC\n"), "x.csv").unwrap_err();
    assert_eq!(e.to_string(), "x.csv:7: quoted cell is never closed");
    let mut bad = file("AAAA001,,A,1,0,1,1,,,1,ADC\n,,x");
    bad.push(0xFF);
    let e = parse_official(&bad, "x.csv").unwrap_err();
    assert_eq!(e.to_string(), "x.csv:8: invalid UTF-8");
    let e = parse_official(
        b"CNAM - CCAM version 5 applicable 02/03/2024\nfoo,bar\n",
        "x.csv",
    )
    .unwrap_err();
    assert!(
        matches!(e, CcamError::Header { .. }) && e.to_string().starts_with("x.csv:2: "),
        "{e}"
    );
    let e = parse_official(&file("1,,CHAPITRE,,,,,,,,\n"), "x.csv").unwrap_err();
    assert!(matches!(e, CcamError::Content { .. }), "{e}");
}

#[test]
fn synthetic_odd_rows() {
    let body = "AAAA001,,A,1,0,1,1,,,1,ADC\n\
        ,,anesthésie,1,0,2,2,,,1,ADA\n\
        ,,Note,x,0,,,,,,\n\
        BBBB001,,Header,,,5,5,,,,\n\
        \"[F]\",,Note,,,,,,,,\n\
        CCCC001,,C,1,0,1,1,,,1,ADC\n\
        AAAA001,,again,1,0,3,3,,,1,ADC\n\
        2,,CHAP,,,,,,,,\n\
        \"[F]\",,orphan,,,,,,,,\n";
    let v = parse_official(&file(body), "o.csv").unwrap();
    let w = v.warnings.join("\n");
    assert!(
        w.contains("o.csv:8: act AAAA001: activity 1 phase 0 is listed twice"),
        "{w}"
    );
    assert!(
        w.contains("o.csv:9: act AAAA001: unreadable activity/phase `x`/`0`"),
        "{w}"
    );
    assert!(
        w.contains(
            "o.csv:10: act BBBB001: act row without activity/phase carries tariff cells `5`/`5`"
        ),
        "{w}"
    );
    assert!(
        w.contains(
            "o.csv:11: act BBBB001: modifier list [F] is followed by no activity row; dropped"
        ),
        "{w}"
    );
    assert!(
        w.contains("o.csv:13: act AAAA001 is listed twice in this file"),
        "{w}"
    );
    assert!(w.contains("o.csv:15: row outside any act"), "{w}");
    assert_eq!(v.acts.len(), 3);
    assert_eq!(phase(&v.acts[0], 1, 0), (Some(100), Some(100)));
}

#[test]
fn no_panic_on_truncated_or_mangled_input() {
    let base = file(BODY);
    for n in 0..=base.len() {
        let _ = parse_official(&base[..n], "t.csv");
        let _ = version_line(&base[..n]);
    }
    // Deterministic byte mutations of the start of a real file.
    let chunk = &V81[..V81.len().min(40_000)];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..40 {
        let mut m = chunk.to_vec();
        for _ in 0..20 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let pos = (seed >> 33) as usize % m.len();
            m[pos] = [b'"', b',', b'\n', b'\r', b'[', b'(', b'9', 0xC3][(seed >> 20) as usize % 8];
        }
        let _ = parse_official(&m, "m.csv");
    }
}

fn tiny(version: u32, applicable: u32, acts: &[(&str, i64, &str)]) -> OfficialCcam {
    OfficialCcam {
        version,
        applicable,
        acts: acts
            .iter()
            .map(|(code, cents, mods)| OfficialAct {
                code: c(code),
                label: format!("L\t{code}\nx"),
                exo_tm: "1".into(),
                regroupement: "ADC".into(),
                chapter: "01.01".into(),
                phases: vec![OfficialPhase {
                    activity: 1,
                    phase: 0,
                    tariff_g1_cents: Some(*cents),
                    tariff_g2_cents: None,
                }],
                modifiers: if mods.is_empty() {
                    vec![]
                } else {
                    vec![(1, mods.to_string())]
                },
                companions: if *code == "AAAA001" {
                    vec![c("BBBB001")]
                } else {
                    vec![]
                },
                ..OfficialAct::default()
            })
            .collect(),
        modifiers: vec![],
        warnings: vec![],
    }
}

#[test]
fn merge_rule_and_exact_tsv_bytes() {
    // AAAA001 unchanged throughout; BBBB001 leaves in v2 and comes back in v3 (two rows);
    // CCCC001 changes price in v3.
    let h = build_history(vec![
        tiny(
            3,
            20230101,
            &[
                ("AAAA001", 100, "FU"),
                ("BBBB001", 5, ""),
                ("CCCC001", 7, ""),
            ],
        ),
        tiny(
            1,
            20210101,
            &[
                ("AAAA001", 100, "FU"),
                ("BBBB001", 5, ""),
                ("CCCC001", 6, ""),
            ],
        ),
        tiny(2, 20220101, &[("AAAA001", 100, "FU"), ("CCCC001", 6, "")]),
    ])
    .unwrap();
    let dir = std::env::temp_dir().join(format!("ccam_official_tiny_{}", std::process::id()));
    write_tsv(&h, &dir).unwrap();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(
        read("ccam_acts.tsv"),
        "code\tvalid_from\tvalid_to\tversion\texo_tm\trc\tap\tregroupement\tcomplement\tlabel\n\
         AAAA001\t2021-01-01\t\t1\t1\t\t\tADC\t0\tL AAAA001 x\n\
         BBBB001\t2021-01-01\t2022-01-01\t1\t1\t\t\tADC\t1\tL BBBB001 x\n\
         BBBB001\t2023-01-01\t\t3\t1\t\t\tADC\t1\tL BBBB001 x\n\
         CCCC001\t2021-01-01\t\t1\t1\t\t\tADC\t0\tL CCCC001 x\n"
    );
    assert_eq!(
        read("ccam_tariffs.tsv"),
        "code\tactivity\tphase\tvalid_from\tvalid_to\tversion\ttariff_g1\ttariff_g2\n\
         AAAA001\t1\t0\t2021-01-01\t\t1\t1.00\t\n\
         BBBB001\t1\t0\t2021-01-01\t2022-01-01\t1\t0.05\t\n\
         BBBB001\t1\t0\t2023-01-01\t\t3\t0.05\t\n\
         CCCC001\t1\t0\t2021-01-01\t2023-01-01\t1\t0.06\t\n\
         CCCC001\t1\t0\t2023-01-01\t\t3\t0.07\t\n"
    );
    assert_eq!(
        read("ccam_modifiers_allowed.tsv"),
        "code\tactivity\tvalid_from\tvalid_to\tversion\tmodifiers\nAAAA001\t1\t2021-01-01\t\t1\tFU\n"
    );
    assert_eq!(
        read("ccam_companions.tsv"),
        "code\tvalid_from\tvalid_to\tversion\tcompanions\nAAAA001\t2021-01-01\t\t1\tBBBB001\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(build_history(vec![]).unwrap(), CcamHistory::default());
}

#[test]
fn retain_codes_filters_every_table() {
    let mut h = history().clone();
    h.retain_codes(|k| k == &c("HBGD036"));
    assert_eq!(
        (
            h.acts.len(),
            h.tariffs.len(),
            h.modifiers_allowed.len(),
            h.companions.len()
        ),
        (2, 2, 1, 1)
    );
}

#[test]
fn money_and_date_formats() {
    assert_eq!(fmt_cents(68727), "687.27");
    assert_eq!(fmt_cents(5), "0.05");
    assert_eq!(fmt_cents(-150), "-1.50");
    assert_eq!(fmt_date(20260101), "2026-01-01");
    assert_eq!(fmt_opt_date(None), "");
}
