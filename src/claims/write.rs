//! Formatting records (the inverse of [`super::record`]): used by the generator, the fixtures and the
//! tests, so that every file the project writes is produced by one piece of code.

use super::record::{ActLine, BatchHeader, BatchTrailer, ClaimEnd, ClaimHeader, RECORD_LEN, Act};
use crate::date::Date;

struct Rec(Vec<u8>);

impl Rec {
    fn new(kind: &[u8; 2]) -> Rec {
        let mut v = Vec::with_capacity(RECORD_LEN + 1);
        v.extend_from_slice(kind);
        Rec(v)
    }
    fn num(mut self, v: u64, n: usize) -> Rec {
        let mut buf = [b'0'; 20];
        let mut x = v;
        for i in (0..n).rev() {
            buf[i] = b'0' + (x % 10) as u8;
            x /= 10;
        }
        self.0.extend_from_slice(&buf[..n]);
        self
    }
    fn raw(mut self, b: &[u8], n: usize) -> Rec {
        for i in 0..n {
            self.0.push(*b.get(i).unwrap_or(&b' '));
        }
        self
    }
    fn date(self, d: Date) -> Rec {
        self.num(d.0 as u64, 8)
    }
    fn done(mut self) -> Vec<u8> {
        self.0.resize(RECORD_LEN, b' ');
        self.0
    }
}

pub fn batch_header(h: &BatchHeader) -> Vec<u8> {
    Rec::new(b"00").num(h.sender as u64, 9).num(h.batch_no as u64, 6).date(h.date).num(h.version as u64, 4).done()
}

pub fn claim_header(h: &ClaimHeader) -> Vec<u8> {
    Rec::new(b"02")
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

pub fn act_line(l: &ActLine) -> Vec<u8> {
    let kind = match l.act {
        Act::Ngap { .. } => b"04",
        Act::Ccam { .. } => b"4M",
    };
    let r = Rec::new(kind).num(l.claim_no as u64, 9).num(l.line_no as u64, 3).date(l.date);
    let r = match l.act {
        Act::Ngap { letter, coef } => r.raw(&letter, 4).num(coef as u64, 6),
        Act::Ccam { code, extension, activity, phase, modifiers, assoc, rc } => r
            .raw(&code, 13)
            .raw(&[extension], 1)
            .num(activity as u64, 1)
            .num(phase as u64, 1)
            .raw(&modifiers, 4)
            .raw(&[assoc], 1)
            .raw(&[rc], 1),
    };
    r.num(l.quantity as u64, 3).num(l.fee as u64, 8).raw(&l.qualifier, 2).raw(&[l.exemption], 1).done()
}

pub fn claim_end(e: &ClaimEnd) -> Vec<u8> {
    Rec::new(b"05").num(e.claim_no as u64, 9).num(e.count as u64, 3).num(e.total as u64, 10).done()
}

pub fn batch_trailer(t: &BatchTrailer) -> Vec<u8> {
    Rec::new(b"99").num(t.batch_no as u64, 6).num(t.claims, 8).num(t.lines, 9).num(t.total as u64, 12).done()
}

/// Accumulates a whole batch file: keeps the trailer's counts and totals consistent by construction.
pub struct BatchWriter<W: std::io::Write> {
    out: W,
    batch_no: u32,
    claims: u64,
    lines: u64,
    total: i64,
}

impl<W: std::io::Write> BatchWriter<W> {
    pub fn new(mut out: W, h: &BatchHeader) -> std::io::Result<Self> {
        out.write_all(&batch_header(h))?;
        out.write_all(b"\n")?;
        Ok(BatchWriter { out, batch_no: h.batch_no, claims: 0, lines: 0, total: 0 })
    }

    /// Writes a claim: header, lines (numbered 1.. and stamped with the claim number), end record.
    pub fn claim(&mut self, h: &ClaimHeader, lines: &[ActLine]) -> std::io::Result<()> {
        self.out.write_all(&claim_header(h))?;
        self.out.write_all(b"\n")?;
        let mut total = 0;
        for (i, l) in lines.iter().enumerate() {
            let mut l = *l;
            l.claim_no = h.claim_no;
            l.line_no = (i + 1) as u16;
            total += l.fee;
            self.out.write_all(&act_line(&l))?;
            self.out.write_all(b"\n")?;
        }
        let end = ClaimEnd { claim_no: h.claim_no, count: lines.len() as u16, total };
        self.out.write_all(&claim_end(&end))?;
        self.out.write_all(b"\n")?;
        self.claims += 1;
        self.lines += lines.len() as u64;
        self.total += total;
        Ok(())
    }

    /// Raw record (for building damaged fixtures); not counted.
    pub fn raw(&mut self, rec: &[u8]) -> std::io::Result<()> {
        self.out.write_all(rec)?;
        self.out.write_all(b"\n")
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        let t = BatchTrailer { batch_no: self.batch_no, claims: self.claims, lines: self.lines, total: self.total };
        self.out.write_all(&batch_trailer(&t))?;
        self.out.write_all(b"\n")?;
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
            act: Act::Ngap { letter: *b"G   ", coef: 100 },
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
