//! Payment orders (issue #14 item 4): per night, one credit transfer per payee — the practitioner under
//! third-party payment, the insured otherwise; complementary shares are not ours to pay — of what the
//! night owes them (Σ `amo_paid`) minus the debts recovered from it (Σ `recovered`), as an ISO 20022
//! `pain.001.001.03` SEPA Credit Transfer initiation (`payment_orders.xml`), with one row per payee in
//! `payment_orders.tsv` and the transfers that cannot be made in `held_payments.tsv` (code `P…`:
//! no account, invalid IBAN or BIC, no payer account) — amounts kept, nothing lost. Layout and
//! decisions: formats/payment-orders.md.
//!
//! Architecture invariant: the file's bytes depend only on the claims and the reference set — no
//! wall-clock time (`CreDtTm` is the batch date at midnight), payees in a defined order (practitioners
//! by billing number, then insured by beneficiary key), and `NbOfTxs` / `CtrlSum` equal to
//! `summary.json`'s `payment_orders` / `payment_orders_cents`.

use super::files::create_private;
use crate::engine::BatchInfo;
use crate::money::{Cents, fmt_euros};
use crate::refs::bank::{BankAccount, BankProblem};
use crate::refs::{Refs, benef_key, benef_text};
use crate::rules::{Outcome, PayeeKind};
use crate::sink::{Event, Sink, SinkError};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const XML: &str = "payment_orders.xml";
pub const ORDERS: &str = "payment_orders.tsv";
pub const HELD: &str = "held_payments.tsv";

pub const ORDERS_HEADER: &str = "end_to_end_id\tpayee_kind\tpayee_id\tlines\towed\trecovered\tamount\tstatus\tiban\tbic\tcode\n";
pub const HELD_HEADER: &str =
    "payee_kind\tpayee_id\tlines\towed\trecovered\tamount\tcode\treason\n";

/// Why a payee's transfer is held (formats/payment-orders.md, formats/codes.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// P001: no IBAN for the payee in the reference tables.
    NoAccount,
    /// P002: the IBAN fails the format or the mod-97 check.
    InvalidIban,
    /// P003: a BIC is given and malformed.
    InvalidBic,
    /// P004: the reference set has no payer account (`payer.tsv`).
    NoPayer,
}

impl Hold {
    pub fn code(self) -> &'static str {
        match self {
            Hold::NoAccount => "P001",
            Hold::InvalidIban => "P002",
            Hold::InvalidBic => "P003",
            Hold::NoPayer => "P004",
        }
    }
    pub fn slug(self) -> &'static str {
        match self {
            Hold::NoAccount => "NO_BANK_ACCOUNT",
            Hold::InvalidIban => "INVALID_IBAN",
            Hold::InvalidBic => "INVALID_BIC",
            Hold::NoPayer => "NO_PAYER_ACCOUNT",
        }
    }
    fn of(p: BankProblem) -> Hold {
        match p {
            BankProblem::Missing => Hold::NoAccount,
            BankProblem::InvalidIban => Hold::InvalidIban,
            BankProblem::InvalidBic => Hold::InvalidBic,
        }
    }
}

/// A payee: practitioners sort before the insured, each by number / beneficiary key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Payee {
    Practitioner(u32),
    Insured(u64),
}

impl Payee {
    pub fn kind(self) -> PayeeKind {
        match self {
            Payee::Practitioner(_) => PayeeKind::Practitioner,
            Payee::Insured(_) => PayeeKind::Insured,
        }
    }
    pub fn id(self) -> String {
        match self {
            Payee::Practitioner(n) => format!("{n:09}"),
            Payee::Insured(k) => benef_text(k),
        }
    }
}

/// What the night owes one payee.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Due {
    pub lines: u64,
    /// Σ `amo_paid` of the payee's lines.
    pub owed: Cents,
    /// Σ `recovered` (debts of the insured settled from it).
    pub recovered: Cents,
}

impl Due {
    pub fn amount(&self) -> Cents {
        self.owed - self.recovered
    }
}

/// The night's totals of the payment orders (the summary's keys).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderTotals {
    /// Transfers in `payment_orders.xml` (`NbOfTxs`) and their sum (`CtrlSum`).
    pub transfers: u64,
    pub transfers_cents: Cents,
    pub held: u64,
    pub held_cents: Cents,
    /// Payees whose whole due was recovered (nothing to transfer).
    pub nothing_due: u64,
}

/// Sums what is due per payee over the night, then writes the three files at the end.
pub struct PaymentOrderSink<'r> {
    refs: &'r Refs,
    dir: PathBuf,
    due: BTreeMap<Payee, Due>,
    totals: OrderTotals,
}

impl<'r> PaymentOrderSink<'r> {
    pub fn new(dir: &Path, refs: &'r Refs) -> PaymentOrderSink<'r> {
        PaymentOrderSink {
            refs,
            dir: dir.to_path_buf(),
            due: BTreeMap::new(),
            totals: OrderTotals::default(),
        }
    }
    pub fn totals(&self) -> OrderTotals {
        self.totals
    }
}

/// Adds the paid lines of `events` to what is due per payee.
pub fn add_due(due: &mut BTreeMap<Payee, Due>, events: &[Event<'_>]) {
    for e in events {
        let Event::Claim(c) = e else { continue };
        let (Outcome::Paid(p), Some(h)) = (c.outcome, c.header) else {
            continue;
        };
        let payee = match p.payee {
            PayeeKind::Practitioner => Payee::Practitioner(h.practitioner),
            PayeeKind::Insured => Payee::Insured(benef_key(&h.nir, h.rank).unwrap_or(0)),
        };
        let d = due.entry(payee).or_default();
        for l in &p.lines {
            d.lines += 1;
            d.owed += l.amo_paid;
            d.recovered += l.recovered;
        }
    }
}

/// The account a payee is paid on, on the batch date: the practitioner's row in force that day (else
/// the latest one), the beneficiary's bank columns.
pub fn account(refs: &Refs, payee: Payee, on: crate::date::Date) -> Option<BankAccount> {
    match payee {
        Payee::Practitioner(n) => {
            let h = refs.practitioner_banks.get(&n)?;
            h.value_at(on)
                .or_else(|| h.rows().last().map(|r| &r.1))
                .copied()
        }
        Payee::Insured(k) => refs.beneficiaries.bank(k),
    }
}

/// One decided payee: a transfer, a hold, or nothing due.
pub struct Decision {
    pub payee: Payee,
    pub due: Due,
    pub account: Option<BankAccount>,
    /// `Ok(Some(seq))` a transfer (1-based sequence), `Ok(None)` nothing due, `Err` held.
    pub outcome: Result<Option<u64>, Hold>,
}

/// Decides every payee, in payee order.
pub fn decide(
    refs: &Refs,
    due: &BTreeMap<Payee, Due>,
    on: crate::date::Date,
) -> (Vec<Decision>, OrderTotals) {
    let mut t = OrderTotals::default();
    let mut out = Vec::with_capacity(due.len());
    for (&payee, &d) in due {
        let account = account(refs, payee, on);
        let outcome = if d.amount() <= 0 {
            t.nothing_due += 1;
            Ok(None)
        } else {
            // No payer account holds everyone (the root cause), before the payee's own account.
            let ok = refs
                .payer
                .as_ref()
                .map(|_| ())
                .ok_or(Hold::NoPayer)
                .and_then(|()| match account {
                    None => Err(Hold::NoAccount),
                    Some(a) => a.check().map_err(Hold::of),
                });
            match ok {
                Ok(()) => {
                    t.transfers += 1;
                    t.transfers_cents += d.amount();
                    Ok(Some(t.transfers))
                }
                Err(h) => {
                    t.held += 1;
                    t.held_cents += d.amount();
                    Err(h)
                }
            }
        };
        out.push(Decision {
            payee,
            due: d,
            account,
            outcome,
        });
    }
    (out, t)
}

fn end_to_end(batch_no: u32, seq: u64) -> String {
    format!("LIQ{batch_no}-{seq:07}")
}

/// XML text escaping (names come from a table).
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// A tiny indented XML writer: one element per line, two spaces per level. With a `spill` writer the
/// text is handed to it by pieces of about 1 MiB ([`Xml::spill`]), so that a national night's document
/// is never whole in memory (issue #13); what is left in `out` at the end is the caller's to write.
struct Xml<'w> {
    out: String,
    depth: usize,
    spill: Option<&'w mut dyn Write>,
}

impl Xml<'_> {
    /// Hands `out` to the spill writer once it holds 1 MiB or more.
    fn spill(&mut self) -> std::io::Result<()> {
        if let Some(w) = self.spill.as_mut()
            && self.out.len() >= 1 << 20
        {
            w.write_all(self.out.as_bytes())?;
            self.out.clear();
        }
        Ok(())
    }
    fn open(&mut self, tag: &str) {
        let _ = writeln!(self.out, "{:w$}<{tag}>", "", w = 2 * self.depth);
        self.depth += 1;
    }
    fn close(&mut self, tag: &str) {
        self.depth = self.depth.saturating_sub(1);
        let _ = writeln!(self.out, "{:w$}</{tag}>", "", w = 2 * self.depth);
    }
    /// `<tag>text</tag>`, the text escaped.
    fn leaf(&mut self, tag: &str, text: &str) {
        let _ = writeln!(
            self.out,
            "{:w$}<{tag}>{}</{tag}>",
            "",
            esc(text),
            w = 2 * self.depth
        );
    }
    /// `<FinInstnId>` with the BIC, or `Othr/Id NOTPROVIDED` when there is none (EPC usage).
    fn agent(&mut self, bic: &str) {
        self.open("FinInstnId");
        if bic.is_empty() {
            self.open("Othr");
            self.leaf("Id", "NOTPROVIDED");
            self.close("Othr");
        } else {
            self.leaf("BIC", bic);
        }
        self.close("FinInstnId");
    }
    fn iban(&mut self, tag: &str, iban: &str) {
        self.open(tag);
        self.open("Id");
        self.leaf("IBAN", iban);
        self.close("Id");
        self.close(tag);
    }
}

/// The `pain.001.001.03` document of the decided transfers (`None` when there is none: the schema
/// requires at least one transaction, or no payer account). One payment information block (one debit
/// of the centre's account), then one `CdtTrfTxInf` per transfer in payee order.
pub fn pain001(
    refs: &Refs,
    batch: &BatchInfo,
    decisions: &[Decision],
    t: &OrderTotals,
) -> Option<String> {
    pain001_into(refs, batch, decisions, t, None).ok().flatten()
}

/// [`pain001`], the document's text handed to `spill` as it is built (nothing when there is no
/// document); returns the text not yet handed over, to be written after it.
fn pain001_into(
    refs: &Refs,
    batch: &BatchInfo,
    decisions: &[Decision],
    t: &OrderTotals,
    spill: Option<&mut dyn Write>,
) -> std::io::Result<Option<String>> {
    let Some(payer) = refs.payer.as_ref() else {
        return Ok(None);
    };
    if t.transfers == 0 {
        return Ok(None);
    }
    let Some(h) = batch.header else {
        return Ok(None);
    };
    let msg_id = format!("LIQ-{}-{}-{}", h.sender, h.batch_no, h.date.0);
    let date = h.date.to_string();
    let ctrl = fmt_euros(t.transfers_cents);
    let n = t.transfers.to_string();
    let mut x = Xml {
        out: String::with_capacity(if spill.is_some() {
            2 << 20
        } else {
            2048 + decisions.len() * 700
        }),
        depth: 0,
        spill,
    };
    x.out
        .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.out.push_str("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n");
    x.depth = 1;
    x.open("CstmrCdtTrfInitn");
    x.open("GrpHdr");
    x.leaf("MsgId", &msg_id);
    // The batch date, not the wall clock: the same night gives the same bytes.
    x.leaf("CreDtTm", &format!("{date}T00:00:00"));
    x.leaf("NbOfTxs", &n);
    x.leaf("CtrlSum", &ctrl);
    x.open("InitgPty");
    x.leaf("Nm", &payer.name);
    x.close("InitgPty");
    x.close("GrpHdr");
    x.open("PmtInf");
    x.leaf("PmtInfId", &format!("{msg_id}-1"));
    x.leaf("PmtMtd", "TRF");
    x.leaf("BtchBookg", "false");
    x.leaf("NbOfTxs", &n);
    x.leaf("CtrlSum", &ctrl);
    x.open("PmtTpInf");
    x.open("SvcLvl");
    x.leaf("Cd", "SEPA");
    x.close("SvcLvl");
    x.close("PmtTpInf");
    x.leaf("ReqdExctnDt", &date);
    x.open("Dbtr");
    x.leaf("Nm", &payer.name);
    x.close("Dbtr");
    x.iban("DbtrAcct", payer.account.iban());
    x.open("DbtrAgt");
    x.agent(payer.account.bic());
    x.close("DbtrAgt");
    x.leaf("ChrgBr", "SLEV");
    for d in decisions {
        let (Ok(Some(seq)), Some(a)) = (d.outcome, d.account) else {
            continue;
        };
        let e2e = end_to_end(h.batch_no, seq);
        x.open("CdtTrfTxInf");
        x.open("PmtId");
        x.leaf("InstrId", &e2e);
        x.leaf("EndToEndId", &e2e);
        x.close("PmtId");
        x.open("Amt");
        let _ = writeln!(
            x.out,
            "{:w$}<InstdAmt Ccy=\"EUR\">{}</InstdAmt>",
            "",
            fmt_euros(d.due.amount()),
            w = 2 * x.depth
        );
        x.close("Amt");
        if !a.bic().is_empty() {
            x.open("CdtrAgt");
            x.agent(a.bic());
            x.close("CdtrAgt");
        }
        x.open("Cdtr");
        x.leaf(
            "Nm",
            &match d.payee {
                Payee::Practitioner(n) => format!("PS {n:09}"),
                // The bank needs no NIR: the insured is named by the transfer's reference, which
                // payment_orders.tsv maps back to the beneficiary.
                Payee::Insured(_) => "ASSURE".to_string(),
            },
        );
        x.close("Cdtr");
        x.iban("CdtrAcct", a.iban());
        x.open("RmtInf");
        x.leaf(
            "Ustrd",
            &format!("AMO LOT {} DU {date} REF {e2e}", h.batch_no),
        );
        x.close("RmtInf");
        x.close("CdtTrfTxInf");
        x.spill()?;
    }
    x.close("PmtInf");
    x.close("CstmrCdtTrfInitn");
    x.out.push_str("</Document>\n");
    Ok(Some(x.out))
}

/// A file created on its first write: `payment_orders.xml` exists only when there is a document.
struct LazyFile {
    path: std::path::PathBuf,
    f: Option<std::fs::File>,
}

impl Write for LazyFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let f = match self.f.as_mut() {
            Some(f) => f,
            None => self.f.insert(create_private(&self.path)?),
        };
        f.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.f.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

/// `payment_orders.tsv` and `held_payments.tsv`.
pub fn tables(batch_no: u32, decisions: &[Decision]) -> (String, String) {
    let (mut o, mut h) = (String::from(ORDERS_HEADER), String::from(HELD_HEADER));
    for d in decisions {
        let (kind, id) = (d.payee.kind().as_str(), d.payee.id());
        let (iban, bic) = d.account.map_or((String::new(), String::new()), |a| {
            (a.iban().to_string(), a.bic().to_string())
        });
        let (e2e, status, code) = match d.outcome {
            Ok(Some(seq)) => (end_to_end(batch_no, seq), "TRANSFER", ""),
            Ok(None) => (String::new(), "NOTHING_DUE", ""),
            Err(c) => (String::new(), "HELD", c.code()),
        };
        let _ = writeln!(
            o,
            "{e2e}\t{kind}\t{id}\t{}\t{}\t{}\t{}\t{status}\t{iban}\t{bic}\t{code}",
            d.due.lines,
            fmt_euros(d.due.owed),
            fmt_euros(d.due.recovered),
            fmt_euros(d.due.amount()),
        );
        if let Err(c) = d.outcome {
            let _ = writeln!(
                h,
                "{kind}\t{id}\t{}\t{}\t{}\t{}\t{}\t{}",
                d.due.lines,
                fmt_euros(d.due.owed),
                fmt_euros(d.due.recovered),
                fmt_euros(d.due.amount()),
                c.code(),
                c.slug()
            );
        }
    }
    (o, h)
}

fn write_file(dir: &Path, name: &str, text: &str) -> Result<(), SinkError> {
    let path = dir.join(name);
    let mut f = create_private(&path).map_err(|e| SinkError::Io(path.clone(), e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| SinkError::Io(path, e))
}

impl Sink for PaymentOrderSink<'_> {
    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        add_due(&mut self.due, events);
        Ok(())
    }

    fn finish(&mut self, batch: &BatchInfo) -> Result<(), SinkError> {
        let on = batch.header.map(|h| h.date).unwrap_or_default();
        let (decisions, totals) = decide(self.refs, &self.due, on);
        self.totals = totals;
        // The end-of-run files are built in memory one after the other, each freed once written, and
        // the amounts due once decided: the run's memory peaks here (issue #13).
        self.due = BTreeMap::new();
        let batch_no = batch.header.map_or(0, |h| h.batch_no);
        {
            let (orders, held) = tables(batch_no, &decisions);
            write_file(&self.dir, ORDERS, &orders)?;
            write_file(&self.dir, HELD, &held)?;
        }
        let path = self.dir.join(XML);
        let mut file = LazyFile {
            path: path.clone(),
            f: None,
        };
        let rest = pain001_into(self.refs, batch, &decisions, &totals, Some(&mut file))
            .map_err(|e| SinkError::Io(path.clone(), e))?;
        if let Some(x) = rest {
            file.write_all(x.as_bytes())
                .map_err(|e| SinkError::Io(path, e))?;
        }
        Ok(())
    }
}
