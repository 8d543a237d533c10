//! One fixed-width record → one typed, `Copy` value. No allocation: fields are sliced out of the
//! input by a small cursor (`P`: digits, printable bytes, skips) and converted in place.
//!
//! Layout: `formats/claims-b2.md`. A field that does not parse yields a [`RecordError`] with the
//! reason code, the 1-based column and the field name.

use crate::codes::Reject;
use crate::date::Date;
use crate::money::Cents;

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

/// Parser state: the record and the field being read, so that any failure names its column and field.
struct P<'a> {
    rec: &'a [u8],
    rest: &'a [u8],
    field: &'static str,
}

impl<'a> P<'a> {
    fn new(rec: &'a [u8]) -> Result<P<'a>, RecordError> {
        if rec.len() != RECORD_LEN {
            return Err(RecordError {
                code: Reject::Syntax,
                column: 0,
                field: "record length",
            });
        }
        Ok(P {
            rec,
            rest: &rec[2..],
            field: "",
        })
    }

    fn col(&self) -> u16 {
        (self.rec.len() - self.rest.len() + 1) as u16
    }

    fn fail(&self, code: Reject) -> RecordError {
        RecordError {
            code,
            column: self.col(),
            field: self.field,
        }
    }

    /// `n` ASCII digits as an integer.
    /// `n` decimal digits. Written by hand rather than with a combinator: a night parses ≈ 20 numeric
    /// fields per record for tens of millions of records, and the combinator's generic machinery was
    /// ≈ 6 % of a run's instructions (issue #13). Anything but `n` digits is a syntax error at the
    /// field's column, nothing consumed.
    #[inline]
    fn num(&mut self, n: usize, field: &'static str) -> Result<u64, RecordError> {
        self.field = field;
        let Some((d, rest)) = self.rest.split_at_checked(n) else {
            return Err(self.fail(Reject::Syntax));
        };
        let mut v = 0u64;
        for &c in d {
            let x = c.wrapping_sub(b'0');
            if x > 9 {
                return Err(self.fail(Reject::Syntax));
            }
            v = v * 10 + x as u64;
        }
        self.rest = rest;
        Ok(v)
    }

    /// `N` raw bytes (alphanumeric field); refuses bytes outside printable ASCII.
    #[inline]
    fn raw<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], RecordError> {
        self.field = field;
        match self.rest.split_first_chunk::<N>() {
            Some((d, rest)) if d.iter().all(|c| (b' '..=b'~').contains(c)) => {
                self.rest = rest;
                Ok(*d)
            }
            _ => Err(self.fail(Reject::Syntax)),
        }
    }

    /// A `YYYYMMDD` date: non-digits are a syntax error, impossible dates `R010`.
    fn date(&mut self, field: &'static str) -> Result<Date, RecordError> {
        let col = self.col();
        let v = self.num(8, field)?;
        Date::from_u32(v as u32).ok_or(RecordError {
            code: Reject::BadDate,
            column: col,
            field,
        })
    }

    fn skip(&mut self, n: usize) {
        self.rest = &self.rest[n.min(self.rest.len())..];
    }
}

pub fn batch_header(rec: &[u8]) -> Result<BatchHeader, RecordError> {
    let mut p = P::new(rec)?;
    Ok(BatchHeader {
        sender: p.num(9, "sender")? as u32,
        batch_no: p.num(6, "batch number")? as u32,
        date: p.date("creation date")?,
        version: p.num(4, "format version")? as u16,
    })
}

pub fn claim_header(rec: &[u8]) -> Result<ClaimHeader, RecordError> {
    let mut p = P::new(rec)?;
    Ok(ClaimHeader {
        claim_no: p.num(9, "claim number")? as u32,
        practitioner: p.num(9, "practitioner number")? as u32,
        nir: p.raw::<13>("NIR")?,
        nir_key: p.raw::<2>("NIR key")?,
        rank: p.num(3, "beneficiary rank")? as u16,
        birth: p.date("birth date")?,
        birth_rank: p.num(1, "birth rank")? as u8,
        nature: p.num(2, "nature of insurance")? as u8,
        exemption: p.raw::<1>("exemption")?[0],
        pathway: p.raw::<1>("care-pathway indicator")?[0],
        tp_amo: flag(&mut p, "AMO third-party flag")?,
        tp_amc: flag(&mut p, "AMC third-party flag")?,
        amc: p.raw::<10>("complementary insurer")?,
        contract: p.raw::<2>("contract type")?,
        at_ref: p.raw::<9>("work-accident reference")?,
    })
}

fn flag(p: &mut P, field: &'static str) -> Result<bool, RecordError> {
    let column = p.col();
    match p.num(1, field)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(RecordError {
            code: Reject::Syntax,
            column,
            field,
        }),
    }
}

/// An act record (`04` or `4M`).
pub fn act_line(rec: &[u8]) -> Result<ActLine, RecordError> {
    let ccam = kind(rec) == Kind::Ccam;
    let mut p = P::new(rec)?;
    let claim_no = p.num(9, "claim number")? as u32;
    let line_no = p.num(3, "line number")? as u16;
    let date = p.date("date of care")?;
    let act = if ccam {
        let code = p.raw::<7>("CCAM code")?;
        if !code[..4].iter().all(u8::is_ascii_uppercase)
            || !code[4..].iter().all(u8::is_ascii_digit)
        {
            p.rest = &rec[22..];
            p.field = "CCAM code";
            return Err(p.fail(Reject::Syntax));
        }
        p.skip(6);
        Act::Ccam {
            code,
            extension: p.raw::<1>("documentary extension")?[0],
            activity: p.num(1, "activity")? as u8,
            phase: p.num(1, "phase")? as u8,
            modifiers: p.raw::<4>("modifiers")?,
            assoc: p.raw::<1>("association code")?[0],
            rc: p.raw::<1>("reimbursement-under-condition code")?[0],
        }
    } else {
        Act::Ngap {
            letter: p.raw::<4>("NGAP letter")?,
            coef: p.num(6, "coefficient")? as u32,
        }
    };
    Ok(ActLine {
        claim_no,
        line_no,
        date,
        act,
        quantity: p.num(3, "quantity")? as u16,
        fee: p.num(8, "fee billed")? as Cents,
        qualifier: p.raw::<2>("excess-fee qualifier")?,
        exemption: p.raw::<1>("line exemption")?[0],
    })
}

/// The fee of an act record when that one field is readable, whatever else is wrong with it: the
/// billed amount of a rejected claim is still accounted for.
pub fn act_fee(rec: &[u8]) -> Option<Cents> {
    let start = match kind(rec) {
        Kind::Ngap => 35,
        Kind::Ccam => 47,
        _ => return None,
    };
    let f = rec.get(start..start + 8)?;
    if !f.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(f.iter().fold(0i64, |a, &c| a * 10 + (c - b'0') as i64))
}

/// The claim number of any claim-level record when readable (positions 3–11).
pub fn claim_no(rec: &[u8]) -> Option<u32> {
    let f = rec.get(2..11)?;
    if !f.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(f.iter().fold(0u32, |a, &c| a * 10 + (c - b'0') as u32))
}

pub fn claim_end(rec: &[u8]) -> Result<ClaimEnd, RecordError> {
    let mut p = P::new(rec)?;
    Ok(ClaimEnd {
        claim_no: p.num(9, "claim number")? as u32,
        count: p.num(3, "line count")? as u16,
        total: p.num(10, "claim total")? as Cents,
    })
}

pub fn batch_trailer(rec: &[u8]) -> Result<BatchTrailer, RecordError> {
    let mut p = P::new(rec)?;
    Ok(BatchTrailer {
        batch_no: p.num(6, "batch number")? as u32,
        claims: p.num(8, "claim count")?,
        lines: p.num(9, "line count")?,
        total: p.num(12, "billed total")? as Cents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
