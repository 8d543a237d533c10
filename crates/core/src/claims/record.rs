//! One fixed-width record → one typed, `Copy` value. No allocation: fields are sliced out of the
//! input by a `nom` grammar (one tuple of fixed-width field parsers per record) and converted in place.
//!
//! Layout: `formats/claims-b2.md`. A field that does not parse yields a [`RecordError`] with the
//! reason code, the 1-based column and the field name.

use crate::codes::Reject;
use crate::date::Date;
use crate::money::Cents;
use nom::{IResult, Parser};

/// Every record is this many bytes, newline excluded.
pub const RECORD_LEN: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordError {
    pub code: Reject,
    /// 1-based column of the offending field (0 when the record as a whole is wrong).
    pub column: u16,
    pub field: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    BatchHeader,
    ClaimHeader,
    Ngap,
    Ccam,
    ClaimEnd,
    BatchTrailer,
    Unknown,
}

/// Record kind from the first two bytes (whatever the record's length).
#[inline]
pub fn kind(rec: &[u8]) -> Kind {
    match rec.get(..2) {
        Some(b"00") => Kind::BatchHeader,
        Some(b"02") => Kind::ClaimHeader,
        Some(b"04") => Kind::Ngap,
        Some(b"4M") => Kind::Ccam,
        Some(b"05") => Kind::ClaimEnd,
        Some(b"99") => Kind::BatchTrailer,
        _ => Kind::Unknown,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub sender: u32,
    pub batch_no: u32,
    pub date: Date,
    pub version: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimHeader {
    pub claim_no: u32,
    pub practitioner: u32,
    pub nir: [u8; 13],
    pub nir_key: [u8; 2],
    pub rank: u16,
    pub birth: Date,
    pub birth_rank: u8,
    pub nature: u8,
    pub exemption: u8,
    pub pathway: u8,
    pub tp_amo: bool,
    pub tp_amc: bool,
    pub amc: [u8; 10],
    pub contract: [u8; 2],
    pub at_ref: [u8; 9],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    Ngap {
        letter: [u8; 4],
        /// Coefficient in hundredths (1.00 = 100).
        coef: u32,
    },
    Ccam {
        code: [u8; 7],
        extension: u8,
        activity: u8,
        phase: u8,
        modifiers: [u8; 4],
        assoc: u8,
        rc: u8,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActLine {
    pub claim_no: u32,
    pub line_no: u16,
    pub date: Date,
    pub act: Act,
    pub quantity: u16,
    pub fee: Cents,
    pub qualifier: [u8; 2],
    pub exemption: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimEnd {
    pub claim_no: u32,
    pub count: u16,
    pub total: Cents,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchTrailer {
    pub batch_no: u32,
    pub claims: u64,
    pub lines: u64,
    pub total: Cents,
}

// The grammar, in `nom`: each record is a sequence of fixed-width fields (nom's tuple parser), each field a
// small parser that reads exactly its width. The field parsers are written by hand in nom's shape
// (`&[u8] -> IResult`) rather than built from `take_while_m_n`/`take`: a night parses ≈ 20 numeric fields
// per record for tens of millions of records, and those generic combinators were ≈ 11 % of a run's
// instructions (issue #13). Callgrind, 100 k-claim day, 1 thread, `Chunk::parse` inclusive: 793 M with
// the generic combinators, 418 M with a hand-written cursor and no nom, 355 M with this grammar (the
// tuple lets the compiler see the whole record at once).

/// Why a field failed and where: the input left when it failed (its column follows from the record's
/// length), the reason code and the field's name.
#[derive(Debug)]
struct FieldError<'a> {
    at: &'a [u8],
    code: Reject,
    field: &'static str,
}

impl<'a> nom::error::ParseError<&'a [u8]> for FieldError<'a> {
    fn from_error_kind(at: &'a [u8], _: nom::error::ErrorKind) -> Self {
        FieldError {
            at,
            code: Reject::Syntax,
            field: "",
        }
    }

    fn append(_: &'a [u8], _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

type Res<'a, T> = IResult<&'a [u8], T, FieldError<'a>>;

/// A failure of `field` at `at` (nothing consumed: `at` is the field's first byte).
#[inline]
fn fail<'a>(at: &'a [u8], code: Reject, field: &'static str) -> nom::Err<FieldError<'a>> {
    nom::Err::Error(FieldError { at, code, field })
}

/// `N` decimal digits as an integer; anything else is a syntax error at the field's column.
#[inline]
fn num<'a, const N: usize>(field: &'static str) -> impl Fn(&'a [u8]) -> Res<'a, u64> {
    move |i: &'a [u8]| {
        let Some((d, rest)) = i.split_first_chunk::<N>() else {
            return Err(fail(i, Reject::Syntax, field));
        };
        match digits_value(d) {
            Some(v) => Ok((rest, v)),
            None => Err(fail(i, Reject::Syntax, field)),
        }
    }
}

/// The value of a field of decimal digits, `None` if a byte is not a digit. Six digits and more
/// (dates, amounts, claim and practitioner numbers: most of a record's bytes) are read eight at a
/// time (`refs::eight_digits`, SWAR), the first `len % 8` left-padded with zeros; shorter fields
/// digit by digit (issue #13). The same value as the digit loop: a field has at most 12 digits.
#[inline(always)]
fn digits_value(d: &[u8]) -> Option<u64> {
    if d.len() < 6 {
        return digits_value_bytes(d);
    }
    let head = d.len() % 8;
    let (first, blocks) = d.split_at(head);
    let mut v = 0u64;
    if head > 0 {
        let mut b = [b'0'; 8];
        b[8 - head..].copy_from_slice(first);
        v = crate::refs::eight_digits(&b)?;
    }
    for c in blocks.chunks_exact(8) {
        v = v * 100_000_000 + crate::refs::eight_digits(c)?;
    }
    Some(v)
}

/// [`digits_value`] digit by digit.
#[inline(always)]
fn digits_value_bytes(d: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for &c in d {
        let x = c.wrapping_sub(b'0');
        if x > 9 {
            return None;
        }
        v = v * 10 + x as u64;
    }
    Some(v)
}

/// `N` raw bytes (alphanumeric field); bytes outside printable ASCII are a syntax error.
#[inline]
fn raw<'a, const N: usize>(field: &'static str) -> impl Fn(&'a [u8]) -> Res<'a, [u8; N]> {
    move |i: &'a [u8]| match i.split_first_chunk::<N>() {
        Some((d, rest)) if d.iter().all(|c| (b' '..=b'~').contains(c)) => Ok((rest, *d)),
        _ => Err(fail(i, Reject::Syntax, field)),
    }
}

/// One raw byte.
#[inline]
fn byte<'a>(field: &'static str) -> impl Fn(&'a [u8]) -> Res<'a, u8> {
    move |i: &'a [u8]| raw::<1>(field)(i).map(|(rest, [b])| (rest, b))
}

/// A `YYYYMMDD` date: non-digits are a syntax error, impossible dates `R010`, both at the field's column.
#[inline]
fn date<'a>(field: &'static str) -> impl Fn(&'a [u8]) -> Res<'a, Date> {
    move |i: &'a [u8]| {
        let (rest, v) = num::<8>(field)(i)?;
        match Date::from_u32(v as u32) {
            Some(d) => Ok((rest, d)),
            None => Err(fail(i, Reject::BadDate, field)),
        }
    }
}

/// A one-digit flag: `0` or `1`.
#[inline]
fn flag<'a>(field: &'static str) -> impl Fn(&'a [u8]) -> Res<'a, bool> {
    move |i: &'a [u8]| match num::<1>(field)(i)? {
        (rest, 0) => Ok((rest, false)),
        (rest, 1) => Ok((rest, true)),
        _ => Err(fail(i, Reject::Syntax, field)),
    }
}

/// A CCAM code: 4 capital letters and 3 digits.
#[inline]
fn ccam_code(i: &[u8]) -> Res<'_, [u8; 7]> {
    let (rest, code) = raw::<7>("CCAM code")(i)?;
    if code[..4].iter().all(u8::is_ascii_uppercase) && code[4..].iter().all(u8::is_ascii_digit) {
        Ok((rest, code))
    } else {
        Err(fail(i, Reject::Syntax, "CCAM code"))
    }
}

/// `n` bytes the layout reserves (not read).
#[inline]
fn reserved<'a>(n: usize) -> impl Fn(&'a [u8]) -> Res<'a, ()> {
    move |i: &'a [u8]| match i.split_at_checked(n) {
        Some((_, rest)) => Ok((rest, ())),
        None => Err(fail(i, Reject::Syntax, "reserved")),
    }
}

/// Runs a record's grammar after its 2-byte type; a record of the wrong length is refused whole
/// (column 0), a field that does not parse names its 1-based column.
#[inline]
fn record<'a, O>(
    rec: &'a [u8],
    mut grammar: impl Parser<&'a [u8], Output = O, Error = FieldError<'a>>,
) -> Result<O, RecordError> {
    if rec.len() != RECORD_LEN {
        return Err(RecordError {
            code: Reject::Syntax,
            column: 0,
            field: "record length",
        });
    }
    match grammar.parse(&rec[2..]) {
        Ok((_, o)) => Ok(o),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(RecordError {
            code: e.code,
            column: (rec.len() - e.at.len() + 1) as u16,
            field: e.field,
        }),
        // Complete parsers never ask for more input; kept total rather than panicking.
        Err(nom::Err::Incomplete(_)) => Err(RecordError {
            code: Reject::Syntax,
            column: 0,
            field: "record length",
        }),
    }
}

pub fn batch_header(rec: &[u8]) -> Result<BatchHeader, RecordError> {
    record(
        rec,
        (
            num::<9>("sender"),
            num::<6>("batch number"),
            date("creation date"),
            num::<4>("format version"),
        )
            .map(|(sender, batch_no, date, version)| BatchHeader {
                sender: sender as u32,
                batch_no: batch_no as u32,
                date,
                version: version as u16,
            }),
    )
}

pub fn claim_header(rec: &[u8]) -> Result<ClaimHeader, RecordError> {
    claim_header_fast(rec).map_or_else(|| claim_header_fields(rec), Ok)
}

/// [`claim_header`] field by field through the grammar: the reference, and what names the field of
/// an error.
fn claim_header_fields(rec: &[u8]) -> Result<ClaimHeader, RecordError> {
    record(
        rec,
        (
            num::<9>("claim number"),
            num::<9>("practitioner number"),
            raw::<13>("NIR"),
            raw::<2>("NIR key"),
            num::<3>("beneficiary rank"),
            date("birth date"),
            num::<1>("birth rank"),
            num::<2>("nature of insurance"),
            byte("exemption"),
            byte("care-pathway indicator"),
            flag("AMO third-party flag"),
            flag("AMC third-party flag"),
            raw::<10>("complementary insurer"),
            raw::<2>("contract type"),
            raw::<9>("work-accident reference"),
        )
            .map(
                |(
                    claim_no,
                    practitioner,
                    nir,
                    nir_key,
                    rank,
                    birth,
                    birth_rank,
                    nature,
                    exemption,
                    pathway,
                    tp_amo,
                    tp_amc,
                    amc,
                    contract,
                    at_ref,
                )| ClaimHeader {
                    claim_no: claim_no as u32,
                    practitioner: practitioner as u32,
                    nir,
                    nir_key,
                    rank: rank as u16,
                    birth,
                    birth_rank: birth_rank as u8,
                    nature: nature as u8,
                    exemption,
                    pathway,
                    tp_amo,
                    tp_amc,
                    amc,
                    contract,
                    at_ref,
                },
            ),
    )
}

/// The CCAM part of an act record: code, 6 reserved bytes, extension, activity, phase, modifiers,
/// association and reimbursement-under-condition codes.
fn ccam_act(i: &[u8]) -> Res<'_, Act> {
    (
        ccam_code,
        reserved(6),
        byte("documentary extension"),
        num::<1>("activity"),
        num::<1>("phase"),
        raw::<4>("modifiers"),
        byte("association code"),
        byte("reimbursement-under-condition code"),
    )
        .map(
            |(code, (), extension, activity, phase, modifiers, assoc, rc)| Act::Ccam {
                code,
                extension,
                activity: activity as u8,
                phase: phase as u8,
                modifiers,
                assoc,
                rc,
            },
        )
        .parse(i)
}

/// The NGAP part of an act record: letter and coefficient (hundredths).
fn ngap_act(i: &[u8]) -> Res<'_, Act> {
    (raw::<4>("NGAP letter"), num::<6>("coefficient"))
        .map(|(letter, coef)| Act::Ngap {
            letter,
            coef: coef as u32,
        })
        .parse(i)
}

/// An act record (`04` or `4M`).
pub fn act_line(rec: &[u8]) -> Result<ActLine, RecordError> {
    let act = if kind(rec) == Kind::Ccam {
        ccam_act
    } else {
        ngap_act
    };
    record(
        rec,
        (
            num::<9>("claim number"),
            num::<3>("line number"),
            date("date of care"),
            act,
            num::<3>("quantity"),
            num::<8>("fee billed"),
            raw::<2>("excess-fee qualifier"),
            byte("line exemption"),
        )
            .map(
                |(claim_no, line_no, date, act, quantity, fee, qualifier, exemption)| ActLine {
                    claim_no: claim_no as u32,
                    line_no: line_no as u16,
                    date,
                    act,
                    quantity: quantity as u16,
                    fee: fee as Cents,
                    qualifier,
                    exemption,
                },
            ),
    )
}

/// The fee of an act record when that one field is readable, whatever else is wrong with it: the
/// billed amount of a rejected claim is still accounted for.
pub fn act_fee(rec: &[u8]) -> Option<Cents> {
    let start = match kind(rec) {
        Kind::Ngap => 35,
        Kind::Ccam => 47,
        _ => return None,
    };
    let (_, fee) = num::<8>("fee billed")(rec.get(start..)?).ok()?;
    Some(fee as Cents)
}

/// The claim number of any claim-level record when readable (positions 3–11).
pub fn claim_no(rec: &[u8]) -> Option<u32> {
    let (_, n) = num::<9>("claim number")(rec.get(2..)?).ok()?;
    Some(n as u32)
}

pub fn claim_end(rec: &[u8]) -> Result<ClaimEnd, RecordError> {
    record(
        rec,
        (
            num::<9>("claim number"),
            num::<3>("line count"),
            num::<10>("claim total"),
        )
            .map(|(claim_no, count, total)| ClaimEnd {
                claim_no: claim_no as u32,
                count: count as u16,
                total: total as Cents,
            }),
    )
}

pub fn batch_trailer(rec: &[u8]) -> Result<BatchTrailer, RecordError> {
    record(
        rec,
        (
            num::<6>("batch number"),
            num::<8>("claim count"),
            num::<9>("line count"),
            num::<12>("billed total"),
        )
            .map(|(batch_no, claims, lines, total)| BatchTrailer {
                batch_no: batch_no as u32,
                claims,
                lines,
                total: total as Cents,
            }),
    )
}

// The claim header read at once (issue #13): the grammar above returns a `Result` per field and
// checks the printable bytes of each text field one at a time. A header is almost always valid, so
// it is first read on the fast path below — every text byte checked printable in one pass over the
// record's fixed range (a loop the compiler vectorises), the numeric fields by [`digits_value`], one
// `Option` for the whole record — and only a header that fails there is read again by the grammar,
// which finds the first field in error, its column and its code. The fast path returns a value only
// where the grammar returns the same one (test `headers_read_at_once_are_what_the_grammar_reads`).
// The same fast path for act lines and end records did not pay (callgrind, 100 k day: act lines
// 67.0 → 66.6 M, end records 14.9 → 15.1 M: their grammar compiles as tight): not kept.

/// Whether every byte of `b` is printable ASCII (what [`raw`] accepts): one pass, no early exit.
#[inline(always)]
fn printable(b: &[u8]) -> bool {
    b.iter()
        .fold(0u8, |a, &c| a | (c.wrapping_sub(b' ') > b'~' - b' ') as u8)
        == 0
}

/// The value of `r[a..b]`, all decimal digits.
#[inline(always)]
fn digits_at(r: &[u8; RECORD_LEN], a: usize, b: usize) -> Option<u64> {
    digits_value(r.get(a..b)?)
}

/// `r[a..a + N]` as an array.
#[inline(always)]
fn bytes_at<const N: usize>(r: &[u8; RECORD_LEN], a: usize) -> Option<[u8; N]> {
    r.get(a..)?.first_chunk::<N>().copied()
}

/// A one-digit flag `0`/`1` ([`flag`]).
#[inline(always)]
fn flag_byte(c: u8) -> Option<bool> {
    match c {
        b'0' => Some(false),
        b'1' => Some(true),
        _ => None,
    }
}

/// [`claim_header`] when every field is valid, else `None`.
#[inline(always)]
fn claim_header_fast(rec: &[u8]) -> Option<ClaimHeader> {
    let r: &[u8; RECORD_LEN] = rec.try_into().ok()?;
    // Columns 3–74: the fields, from the claim number to the work-accident reference.
    if !printable(r.get(2..74)?) {
        return None;
    }
    Some(ClaimHeader {
        claim_no: digits_at(r, 2, 11)? as u32,
        practitioner: digits_at(r, 11, 20)? as u32,
        nir: bytes_at(r, 20)?,
        nir_key: bytes_at(r, 33)?,
        rank: digits_at(r, 35, 38)? as u16,
        birth: Date::from_u32(digits_at(r, 38, 46)? as u32)?,
        birth_rank: digits_at(r, 46, 47)? as u8,
        nature: digits_at(r, 47, 49)? as u8,
        exemption: r[49],
        pathway: r[50],
        tp_amo: flag_byte(r[51])?,
        tp_amc: flag_byte(r[52])?,
        amc: bytes_at(r, 53)?,
        contract: bytes_at(r, 63)?,
        at_ref: bytes_at(r, 65)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields read eight digits at a time give the digit loop's value, and refuse exactly the
    /// fields it refuses: every width used by the layouts, every position of a non-digit, bytes just
    /// outside `0`..`9`, and pseudo-random fields.
    #[test]
    fn digit_fields_read_eight_at_a_time_match_the_digit_loop() {
        let mut rng = crate::states::packed::tests::Mix(0x2545_F491_4F6C_DD1Du64);
        let mut next = || rng.next();
        for len in 0..=19usize {
            let mut cases: Vec<Vec<u8>> = vec![vec![b'0'; len], vec![b'9'; len]];
            for pos in 0..len {
                for bad in [
                    b'/',
                    b':',
                    b' ',
                    b'A',
                    0x80,
                    0xB9,
                    0x00,
                    0xFF,
                    b'0' + 16,
                    b'9' - 16,
                ] {
                    let mut f = vec![b'5'; len];
                    f[pos] = bad;
                    cases.push(f);
                }
            }
            for _ in 0..3_000 {
                let f: Vec<u8> = (0..len)
                    .map(|_| {
                        let r = next();
                        if r % 23 == 0 {
                            (r >> 8) as u8
                        } else {
                            b'0' + (r >> 8) as u8 % 10
                        }
                    })
                    .collect();
                cases.push(f);
            }
            for f in cases {
                assert_eq!(digits_value(&f), digits_value_bytes(&f), "{f:?}");
            }
        }
        assert_eq!(digits_value(b"000000000123"), Some(123));
        assert_eq!(digits_value(b"20260302"), Some(20_260_302));
        assert_eq!(digits_value(b"100001102"), Some(100_001_102));
        assert_eq!(digits_value(b"10000110 "), None);
    }

    /// A claim header: type, claim 000000123, practitioner 987654321, NIR, key, rank 001, birth
    /// 1985-05-07, birth rank 1, nature 10, exemption/pathway blank, third-party flags 1/0, no insurer,
    /// padded to the record length.
    fn header(claim: &str, practitioner: &str, nir: &str) -> Vec<u8> {
        let mut r = format!(
            "02{claim}{practitioner}{nir}8400119850507110  10{:10}{:2}{:9}",
            "", "", ""
        )
        .into_bytes();
        r.resize(RECORD_LEN, b' ');
        r
    }

    #[test]
    fn numeric_and_text_fields_read_exactly_their_width_and_name_their_column_on_error() {
        let h = claim_header(&header("000000123", "987654321", "1850578006084")).unwrap();
        assert_eq!((h.claim_no, h.practitioner, h.rank), (123, 987_654_321, 1));
        assert_eq!(&h.nir, b"1850578006084");
        assert_eq!(&h.nir_key, b"84");
        assert_eq!(h.birth, Date::from_u32(19_850_507).unwrap());
        assert_eq!((h.birth_rank, h.nature), (1, 10));
        assert!(h.tp_amo && !h.tp_amc);
        // A letter in the practitioner number (columns 12-20): a syntax error at column 12.
        let e = claim_header(&header("000000123", "98765432X", "1850578006084")).unwrap_err();
        assert_eq!(
            (e.code, e.column, e.field),
            (Reject::Syntax, 12, "practitioner number")
        );
        // A control byte in the NIR (columns 21-33).
        let e = claim_header(&header("000000123", "987654321", "185057800608\t")).unwrap_err();
        assert_eq!((e.code, e.column, e.field), (Reject::Syntax, 21, "NIR"));
        // A record one byte short is refused whole (column 0).
        let mut short = header("000000123", "987654321", "1850578006084");
        short.pop();
        let e = claim_header(&short).unwrap_err();
        assert_eq!((e.code, e.column), (Reject::Syntax, 0));
    }

    /// The headers read at once (the fast path) are what the grammar reads: on valid claim
    /// headers, and on each with every byte replaced by bytes at the edges of what the fields
    /// accept (digits, letters, space, `~`, control and non-ASCII bytes, a line break), cut short or
    /// made longer, and on pseudo-random multi-byte damage: wherever the fast path gives a value, the
    /// grammar gives the same; every valid header is read by the fast path.
    #[test]
    fn headers_read_at_once_are_what_the_grammar_reads() {
        let pad = |s: String| -> Vec<u8> {
            let mut r = s.into_bytes();
            r.resize(RECORD_LEN, b' ');
            r
        };
        let valid = [
            header("000000123", "987654321", "1850578006084"),
            pad([
                "02",
                "000000042",
                "100000006",
                "185057A006084",
                "12",
                "001",
                "19850507",
                "1",
                "10",
                "3",
                "1",
                "1",
                "1",
                "C2S       ",
                "01",
                "AT1234567",
            ]
            .concat()),
        ];
        let mut checked = [0usize; 2];
        let mut check = |r: &[u8]| {
            if let Some(v) = claim_header_fast(r) {
                assert_eq!(
                    claim_header_fields(r),
                    Ok(v),
                    "{:?}",
                    String::from_utf8_lossy(r)
                );
                checked[0] += 1;
            } else {
                checked[1] += 1;
            }
        };
        for r in &valid {
            assert_eq!(r.len(), RECORD_LEN);
            assert!(
                claim_header_fast(r).is_some(),
                "{:?}",
                String::from_utf8_lossy(r)
            );
        }
        let edges = [
            b'0', b'1', b'9', b'/', b':', b'A', b'Z', b'a', b' ', b'~', 0x7f, 0x1f, 0x00, 0x80,
            0xff, b'\t', b'\n', b'\r', b'2',
        ];
        for base in &valid {
            check(base);
            for i in 0..RECORD_LEN {
                for c in edges {
                    let mut r = base.clone();
                    r[i] = c;
                    check(&r);
                }
            }
            for cut in [0, 1, 2, 60, RECORD_LEN - 1] {
                check(&base[..cut]);
            }
            let mut longer = base.clone();
            longer.push(b' ');
            check(&longer);
        }
        let mut rng = crate::states::packed::tests::Mix(0x9E37_79B9_7F4A_7C15);
        for _ in 0..200_000 {
            let mut r = valid[(rng.next() % valid.len() as u64) as usize].clone();
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() % RECORD_LEN as u64) as usize;
                r[i] = edges[(rng.next() % edges.len() as u64) as usize];
            }
            check(&r);
        }
        // Both paths were taken many times.
        assert!(checked[0] > 10_000 && checked[1] > 10_000, "{checked:?}");
    }
}
