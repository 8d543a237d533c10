//! Formatting records (the inverse of [`super::record`]): used by the generator, the fixtures and the
//! tests, so that every file the project writes is produced by one piece of code.

use liquidator_core::claims::record::{
    Act, ActLine, BatchHeader, BatchTrailer, ClaimEnd, ClaimHeader, RECORD_LEN,
};
use liquidator_core::date::Date;

/// Appends one record (without its newline) to a buffer: no allocation of its own.
struct Rec<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> Rec<'a> {
    fn new(buf: &'a mut Vec<u8>, kind: &[u8; 2]) -> Rec<'a> {
        let start = buf.len();
        buf.extend_from_slice(kind);
        Rec { buf, start }
    }
    fn num(self, v: u64, n: usize) -> Self {
        let mut tmp = [b'0'; 20];
        let mut x = v;
        for i in (0..n).rev() {
            tmp[i] = b'0' + (x % 10) as u8;
            x /= 10;
        }
        self.buf.extend_from_slice(&tmp[..n]);
        self
    }
    fn raw(self, b: &[u8], n: usize) -> Self {
        for i in 0..n {
            self.buf.push(*b.get(i).unwrap_or(&b' '));
        }
        self
    }
    fn date(self, d: Date) -> Self {
        self.num(d.0 as u64, 8)
    }
    fn done(self) {
        self.buf.resize(self.start + RECORD_LEN, b' ');
    }
}

pub fn batch_header_into(buf: &mut Vec<u8>, h: &BatchHeader) {
    Rec::new(buf, b"00")
        .num(h.sender as u64, 9)
        .num(h.batch_no as u64, 6)
        .date(h.date)
        .num(h.version as u64, 4)
        .done()
}

pub fn claim_header_into(buf: &mut Vec<u8>, h: &ClaimHeader) {
    Rec::new(buf, b"02")
        .num(h.claim_no as u64, 9)
        .num(h.practitioner as u64, 9)
        .raw(&h.nir, 13)
        .raw(&h.nir_key, 2)
        .num(h.rank as u64, 3)
        .date(h.birth)
        .num(h.birth_rank as u64, 1)
        .num(h.nature as u64, 2)
        .raw(&[h.exemption], 1)
        .raw(&[h.pathway], 1)
        .num(h.tp_amo as u64, 1)
        .num(h.tp_amc as u64, 1)
        .raw(&h.amc, 10)
        .raw(&h.contract, 2)
        .raw(&h.at_ref, 9)
        .done()
}

pub fn act_line_into(buf: &mut Vec<u8>, l: &ActLine) {
    let kind = match l.act {
        Act::Ngap { .. } => b"04",
        Act::Ccam { .. } => b"4M",
    };
    let r = Rec::new(buf, kind)
        .num(l.claim_no as u64, 9)
        .num(l.line_no as u64, 3)
        .date(l.date);
    let r = match l.act {
        Act::Ngap { letter, coef } => r.raw(&letter, 4).num(coef as u64, 6),
        Act::Ccam {
            code,
            extension,
            activity,
            phase,
            modifiers,
            assoc,
            rc,
        } => r
            .raw(&code, 13)
            .raw(&[extension], 1)
            .num(activity as u64, 1)
            .num(phase as u64, 1)
            .raw(&modifiers, 4)
            .raw(&[assoc], 1)
            .raw(&[rc], 1),
    };
    r.num(l.quantity as u64, 3)
        .num(l.fee as u64, 8)
        .raw(&l.qualifier, 2)
        .raw(&[l.exemption], 1)
        .done()
}

pub fn claim_end_into(buf: &mut Vec<u8>, e: &ClaimEnd) {
    Rec::new(buf, b"05")
        .num(e.claim_no as u64, 9)
        .num(e.count as u64, 3)
        .num(e.total as u64, 10)
        .done()
}

pub fn batch_trailer_into(buf: &mut Vec<u8>, t: &BatchTrailer) {
    Rec::new(buf, b"99")
        .num(t.batch_no as u64, 6)
        .num(t.claims, 8)
        .num(t.lines, 9)
        .num(t.total as u64, 12)
        .done()
}

fn one(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = Vec::with_capacity(RECORD_LEN);
    f(&mut v);
    v
}

pub fn batch_header(h: &BatchHeader) -> Vec<u8> {
    one(|b| batch_header_into(b, h))
}
pub fn claim_header(h: &ClaimHeader) -> Vec<u8> {
    one(|b| claim_header_into(b, h))
}
pub fn act_line(l: &ActLine) -> Vec<u8> {
    one(|b| act_line_into(b, l))
}
pub fn claim_end(e: &ClaimEnd) -> Vec<u8> {
    one(|b| claim_end_into(b, e))
}
pub fn batch_trailer(t: &BatchTrailer) -> Vec<u8> {
    one(|b| batch_trailer_into(b, t))
}

/// Writes a whole claim (header, lines numbered 1.. and stamped with the claim number, end record with
/// the right count and total) into `buf`, each record followed by `\n`. Returns (lines, total).
pub fn claim_into(buf: &mut Vec<u8>, h: &ClaimHeader, lines: &[ActLine]) -> (u64, i64) {
    claim_header_into(buf, h);
    buf.push(b'\n');
    let mut total = 0;
    for (i, l) in lines.iter().enumerate() {
        let mut l = *l;
        l.claim_no = h.claim_no;
        l.line_no = (i + 1) as u16;
        total += l.fee;
        act_line_into(buf, &l);
        buf.push(b'\n');
    }
    claim_end_into(
        buf,
        &ClaimEnd {
            claim_no: h.claim_no,
            count: lines.len() as u16,
            total,
        },
    );
    buf.push(b'\n');
    (lines.len() as u64, total)
}

/// Counts what a trailer must announce for raw bytes of claim records (header, act and end records):
/// claim headers, act records and the sum of their readable fees — exactly what the engine checks.
pub fn tally(bytes: &[u8]) -> (u64, u64, i64) {
    let (mut claims, mut lines, mut total) = (0, 0, 0);
    for rec in bytes.split(|&b| b == b'\n') {
        let rec = rec.strip_suffix(b"\r").unwrap_or(rec);
        match liquidator_core::claims::record::kind(rec) {
            liquidator_core::claims::record::Kind::ClaimHeader => claims += 1,
            liquidator_core::claims::record::Kind::Ngap
            | liquidator_core::claims::record::Kind::Ccam => {
                lines += 1;
                total += liquidator_core::claims::record::act_fee(rec).unwrap_or(0);
            }
            _ => {}
        }
    }
    (claims, lines, total)
}

/// An NGAP act line (claim and line numbers are stamped when the claim is written).
pub fn ngap_line(letter: &str, coef: u32, date: Date, fee: i64) -> ActLine {
    let mut l = [b' '; 4];
    let n = letter.len().min(4);
    l[..n].copy_from_slice(&letter.as_bytes()[..n]);
    ActLine {
        claim_no: 0,
        line_no: 0,
        date,
        act: Act::Ngap { letter: l, coef },
        quantity: 1,
        fee,
        qualifier: *b"  ",
        exemption: b' ',
    }
}

/// A CCAM act line, phase 0, up to 4 modifiers, association code (`b' '` for none).
pub fn ccam_line(
    code: &str,
    activity: u8,
    mods: &[u8],
    assoc: u8,
    date: Date,
    fee: i64,
) -> ActLine {
    let mut c = [b' '; 7];
    let n = code.len().min(7);
    c[..n].copy_from_slice(&code.as_bytes()[..n]);
    let mut m = [b' '; 4];
    for (k, &x) in mods.iter().take(4).enumerate() {
        m[k] = x;
    }
    ActLine {
        claim_no: 0,
        line_no: 0,
        date,
        act: Act::Ccam {
            code: c,
            extension: b' ',
            activity,
            phase: 0,
            modifiers: m,
            assoc,
            rc: b' ',
        },
        quantity: 1,
        fee,
        qualifier: *b"  ",
        exemption: b' ',
    }
}

/// The records of a one-line claim whose end record announces `count` lines and `total` (for damaged
/// fixtures); `edit` may alter the act record's bytes.
pub fn one_line_claim(
    h: &ClaimHeader,
    l: &ActLine,
    count: u16,
    total: i64,
    edit: impl FnOnce(&mut Vec<u8>),
) -> Vec<Vec<u8>> {
    let mut l = *l;
    if l.claim_no == 0 {
        l.claim_no = h.claim_no;
    }
    l.line_no = 1;
    let mut rec = act_line(&l);
    edit(&mut rec);
    vec![
        claim_header(h),
        rec,
        claim_end(&ClaimEnd {
            claim_no: h.claim_no,
            count,
            total,
        }),
    ]
}

/// Accumulates a whole batch file: keeps the trailer's counts and totals consistent by construction.
pub struct BatchWriter<W: std::io::Write> {
    out: W,
    buf: Vec<u8>,
    batch_no: u32,
    claims: u64,
    lines: u64,
    total: i64,
}

impl<W: std::io::Write> BatchWriter<W> {
    pub fn new(out: W, h: &BatchHeader) -> std::io::Result<Self> {
        let mut buf = Vec::with_capacity(1 << 16);
        batch_header_into(&mut buf, h);
        buf.push(b'\n');
        Ok(BatchWriter {
            out,
            buf,
            batch_no: h.batch_no,
            claims: 0,
            lines: 0,
            total: 0,
        })
    }

    fn flush_some(&mut self) -> std::io::Result<()> {
        if self.buf.len() > 1 << 20 {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes a well-formed claim.
    pub fn claim(&mut self, h: &ClaimHeader, lines: &[ActLine]) -> std::io::Result<()> {
        let (n, total) = claim_into(&mut self.buf, h, lines);
        self.claims += 1;
        self.lines += n;
        self.total += total;
        self.flush_some()
    }

    /// Writes raw records (each followed by a newline), counted as the engine will count them: used to
    /// build damaged claims whose trailer still reconciles.
    pub fn raw_records(&mut self, recs: &[Vec<u8>]) -> std::io::Result<()> {
        for r in recs {
            self.buf.extend_from_slice(r);
            self.buf.push(b'\n');
            let (c, l, t) = tally(r);
            self.claims += c;
            self.lines += l;
            self.total += t;
        }
        self.flush_some()
    }

    /// Appends bytes already counted by the caller (claims, act records, total).
    pub fn counted(
        &mut self,
        bytes: &[u8],
        claims: u64,
        lines: u64,
        total: i64,
    ) -> std::io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.write_all(bytes)?;
        self.claims += claims;
        self.lines += lines;
        self.total += total;
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        let t = BatchTrailer {
            batch_no: self.batch_no,
            claims: self.claims,
            lines: self.lines,
            total: self.total,
        };
        batch_trailer_into(&mut self.buf, &t);
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A valid header for tests and examples (NIR 1 85 05 78 006 084, key 91).
pub fn sample_header() -> ClaimHeader {
    ClaimHeader {
        claim_no: 123456789,
        practitioner: 751234567,
        nir: *b"1850578006084",
        nir_key: *b"91",
        rank: 1,
        birth: Date(19850512),
        birth_rank: 1,
        nature: 10,
        exemption: b'0',
        pathway: b'T',
        tp_amo: true,
        tp_amc: false,
        amc: *b"0123456789",
        contract: *b"01",
        at_ref: *b"         ",
    }
}

pub fn sample_lines() -> Vec<ActLine> {
    vec![
        ActLine {
            claim_no: 123456789,
            line_no: 1,
            date: Date(20260105),
            act: Act::Ngap {
                letter: *b"G   ",
                coef: 100,
            },
            quantity: 1,
            fee: 3000,
            qualifier: *b"  ",
            exemption: b' ',
        },
        ActLine {
            claim_no: 123456789,
            line_no: 2,
            date: Date(20260105),
            act: Act::Ccam {
                code: *b"HBGD036",
                extension: b' ',
                activity: 1,
                phase: 0,
                modifiers: *b"F   ",
                assoc: b'1',
                rc: b' ',
            },
            quantity: 1,
            fee: 5806,
            qualifier: *b"DE",
            exemption: b'4',
        },
    ]
}
