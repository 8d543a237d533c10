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
use super::fmt::{self, Out};
use super::pieces::{PIECE, write_pieces};
use super::writeback::WriteBack;
use crate::engine::BatchInfo;
use crate::money::{Cents, fmt_euros};
use crate::refs::bank::{BankAccount, BankProblem};
use crate::refs::{Refs, benef_key, benef_text};
use crate::rules::{Outcome, PayeeKind};
use crate::sink::{Event, Sink, SinkError};
use crate::states::scratch::{self, Store};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const XML: &str = "payment_orders.xml";
pub const ORDERS: &str = "payment_orders.tsv";
pub const HELD: &str = "held_payments.tsv";

pub const ORDERS_HEADER: &str = "end_to_end_id\tpayee_kind\tpayee_id\tlines\towed\trecovered\tamount\tstatus\tiban\tbic\tcode\n";
/// Bytes of the array a transfer is written into (one is ≈ 700 bytes with a BIC).
const TRANSFER_CAP: usize = 1024;

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

/// What the night owes one payee (plain old data: [`DueByPayee`] may hold it in a scratch file).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
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

    /// Adds another part of the same payee's due.
    pub fn add(&mut self, o: &Due) {
        self.lines += o.lines;
        self.owed += o.owed;
        self.recovered += o.recovered;
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
    /// What is due per payee ([`add_due`]); sorted by payee once, at the end.
    due: DueByPayee,
    totals: OrderTotals,
    /// What `due` held when the windows ended (it is taken by [`Sink::finish`]), and the budgets of
    /// the end-of-run files' direct buffers: for [`Sink::held_bytes`].
    due_bytes: usize,
    tail: Vec<std::sync::Arc<crate::output::writeback::DirectBudget>>,
}

impl<'r> PaymentOrderSink<'r> {
    /// The sink writing its files into `dir`, its dues in a scratch file of `scratch` (the staging
    /// directory, or the run's `--scratch-dir`).
    pub fn new(dir: &Path, scratch: &Path, refs: &'r Refs) -> PaymentOrderSink<'r> {
        PaymentOrderSink {
            refs,
            dir: dir.to_path_buf(),
            due: DueByPayee::in_dir(scratch),
            totals: OrderTotals::default(),
            due_bytes: 0,
            tail: Vec::new(),
        }
    }
    pub fn totals(&self) -> OrderTotals {
        self.totals
    }
}

/// What the night owes each payee: entries sorted by payee with one entry per payee (`base`) and the
/// dues added since, unsorted (`log`). When the log reaches a quarter of the base (at least
/// [`LOG_MIN`]), it is sorted, its entries of one payee summed, and merged into the base in place,
/// from the back (the base grows by the log's new payees first, so no entry is overwritten before
/// it is read). Adding a claim is an append: no lookup in a structure of millions of payees, whose
/// cache misses made the B-tree insert, then a hash index, the costliest step of the payment
/// orders' sink (issue #13); sorting and merging read and write memory in order.
///
/// Memory (issue #13): an entry is 32 bytes (the payee packed in a `u64`, [`payee_key`]). In a run
/// the base and the log are two regions of a scratch file of the staging directory
/// ([`DueByPayee::in_dir`], `states::scratch`: file-backed pages, not anonymous memory — 54 MiB on a
/// national night); on the heap otherwise (and if a region fills up). The merge never holds a second
/// copy of the base. Sums of integers do not depend on the order they are added in: the result is the
/// same for any thread count and window size.
#[derive(Default)]
pub struct DueByPayee {
    base: Store<DueEntry>,
    log: Store<DueEntry>,
}

/// One payee's due in [`DueByPayee`]: the payee as [`payee_key`] gives it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct DueEntry {
    pub key: u64,
    pub due: Due,
}

/// The smallest log merged into the base (entries of 32 bytes: 16 MiB).
pub const LOG_MIN: usize = 1 << 19;
/// Name of the dues' scratch file in the staging directory (unlinked as soon as it is created).
const SCRATCH: &str = ".dues.scratch";
/// Bytes of the scratch file mapped for the base (64 M payees) and the log (address space only:
/// the file is sparse, only what is used is populated).
const REGIONS: [usize; 2] = [2 << 30, 1 << 30];

/// The bit that puts the insured after every practitioner in [`payee_key`] (beneficiary keys are
/// below 2^56, `refs::benef_key`).
const INSURED: u64 = 1 << 63;

/// A payee as one `u64` that sorts in [`Payee`]'s order: practitioners by number, then the insured
/// by beneficiary key.
pub fn payee_key(p: Payee) -> u64 {
    match p {
        Payee::Practitioner(n) => n as u64,
        Payee::Insured(k) => INSURED | k,
    }
}

/// [`payee_key`]'s inverse.
pub fn payee_of(key: u64) -> Payee {
    if key & INSURED != 0 {
        Payee::Insured(key & !INSURED)
    } else {
        Payee::Practitioner(key as u32)
    }
}

impl DueByPayee {
    /// Dues whose base and log are regions of a scratch file created in `dir` (the run's staging
    /// directory) and unlinked at once; on the heap if it cannot be made.
    pub fn in_dir(dir: &Path) -> DueByPayee {
        match scratch::regions(dir, SCRATCH, 1, REGIONS).map(|mut v| v.pop()) {
            Ok(Some([base, log])) => DueByPayee {
                base: Store::File(base),
                log: Store::File(log),
            },
            _ => DueByPayee::default(),
        }
    }

    /// What the base and the log hold, in bytes, on the heap and in the scratch file together
    /// (they only grow until the end of the run, so this is also the most they held).
    pub fn bytes(&self) -> usize {
        let (a, b) = self.base.bytes();
        let (c, d) = self.log.bytes();
        a + b + c + d
    }

    /// Adds `d` to what is due to `payee`.
    pub fn add(&mut self, payee: Payee, d: Due) {
        self.log.push(
            DueEntry {
                key: payee_key(payee),
                due: d,
            },
            LOG_MIN,
        );
        if self.log.len() >= LOG_MIN.max(self.base.len() / 4) {
            self.compact();
        }
    }

    /// Sorts the log, sums its entries of one payee and merges it into the base (one entry per
    /// payee); the log keeps its memory.
    fn compact(&mut self) {
        if self.log.len() == 0 {
            return;
        }
        let log = self.log.as_mut_slice();
        log.par_sort_unstable_by_key(|e| e.key);
        // One entry per payee in the log, in place.
        let mut m = 0;
        for i in 0..log.len() {
            let e = log[i];
            if m > 0 && log[m - 1].key == e.key {
                log[m - 1].due.add(&e.due);
            } else {
                log[m] = e;
                m += 1;
            }
        }
        let log = &log[..m];
        // The log's payees not in the base yet: the base grows by as many entries.
        let n = self.base.len();
        let fresh = {
            let base = self.base.as_slice();
            let (mut i, mut fresh) = (0, 0);
            for e in log {
                while base.get(i).is_some_and(|b| b.key < e.key) {
                    i += 1;
                }
                if base.get(i).is_none_or(|b| b.key != e.key) {
                    fresh += 1;
                }
            }
            fresh
        };
        self.base.resize_zeroed(n + fresh, LOG_MIN);
        // From the back: the write position is never below the next base entry to read.
        let base = self.base.as_mut_slice();
        let (mut i, mut w) = (n, n + fresh);
        for e in log.iter().rev() {
            while i > 0 && base[i - 1].key > e.key {
                w -= 1;
                i -= 1;
                base[w] = base[i];
            }
            w -= 1;
            if i > 0 && base[i - 1].key == e.key {
                i -= 1;
                let mut d = base[i].due;
                d.add(&e.due);
                base[w] = DueEntry { key: e.key, due: d };
            } else {
                base[w] = *e;
            }
        }
        self.log.clear();
    }

    /// Payees with a due.
    pub fn len(&mut self) -> usize {
        self.compact();
        self.base.len()
    }

    pub fn is_empty(&self) -> bool {
        self.base.len() == 0 && self.log.len() == 0
    }

    /// Every payee's due, by payee, one entry each (the log's memory freed).
    fn into_base(mut self) -> Store<DueEntry> {
        self.compact();
        self.base
    }

    /// Every payee's due, by payee, one entry each.
    pub fn into_sorted(self) -> Vec<(Payee, Due)> {
        self.into_base()
            .as_slice()
            .iter()
            .map(|e| (payee_of(e.key), e.due))
            .collect()
    }
}

/// Adds the paid lines of `events` to what is due per payee.
pub fn add_due(due: &mut DueByPayee, events: &[Event<'_>]) {
    for e in events {
        let Event::Claim(c) = e else { continue };
        let (Outcome::Paid(p), Some(h)) = (c.outcome, c.header) else {
            continue;
        };
        let payee = match p.payee {
            PayeeKind::Practitioner => Payee::Practitioner(h.practitioner),
            PayeeKind::Insured => Payee::Insured(benef_key(&h.nir, h.rank).unwrap_or(0)),
        };
        let mut d = Due::default();
        for l in &p.lines {
            d.lines += 1;
            d.owed += l.amo_paid;
            d.recovered += l.recovered;
        }
        due.add(payee, d);
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

/// A tiny indented XML writer: one element per line, two spaces per level, bytes pushed without
/// `core::fmt` (a national night has millions of transfers).
struct Xml {
    out: Vec<u8>,
    depth: usize,
}

const SPACES: &[u8] = b"                                ";

impl Xml {
    fn indent(&mut self) {
        let mut n = 2 * self.depth;
        while n > 0 {
            let k = n.min(SPACES.len());
            self.out.extend_from_slice(&SPACES[..k]);
            n -= k;
        }
    }
    fn open(&mut self, tag: &str) {
        self.indent();
        self.out.push(b'<');
        self.out.extend_from_slice(tag.as_bytes());
        self.out.extend_from_slice(b">\n");
        self.depth += 1;
    }
    fn close(&mut self, tag: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(tag.as_bytes());
        self.out.extend_from_slice(b">\n");
    }
    /// `<tag>text</tag>`, the text escaped.
    fn leaf(&mut self, tag: &str, text: &str) {
        self.leaf_with(tag, |o| esc_into(o, text));
    }
    /// `<tag>…</tag>`, the content written by `text` (already escaped).
    fn leaf_with(&mut self, tag: &str, text: impl FnOnce(&mut Vec<u8>)) {
        self.indent();
        self.out.push(b'<');
        self.out.extend_from_slice(tag.as_bytes());
        self.out.push(b'>');
        text(&mut self.out);
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(tag.as_bytes());
        self.out.extend_from_slice(b">\n");
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

/// XML text escaping, appended to `o` (the five special characters are ASCII: escaping byte by byte
/// is escaping character by character).
fn esc_into(o: &mut Vec<u8>, s: &str) {
    esc_out(o, s.as_bytes())
}

/// [`esc_into`] on the text's bytes, into any writer of the formatters (`fmt::Out`).
fn esc_out<O: Out + ?Sized>(o: &mut O, s: &[u8]) {
    if !s
        .iter()
        .any(|c| matches!(c, b'&' | b'<' | b'>' | b'"' | b'\''))
    {
        o.put(s);
        return;
    }
    for &c in s {
        match c {
            b'&' => o.put(b"&amp;"),
            b'<' => o.put(b"&lt;"),
            b'>' => o.put(b"&gt;"),
            b'"' => o.put(b"&quot;"),
            b'\'' => o.put(b"&apos;"),
            c => o.push(c),
        }
    }
}

/// What the document's text needs from the batch: its header, the payer, and the totals.
struct Doc<'a> {
    payer: &'a crate::refs::Payer,
    batch_no: u32,
    msg_id: String,
    /// The batch date, `YYYY-MM-DD`.
    date: String,
}

impl<'a> Doc<'a> {
    /// `None` when there is no document: no transfer (the schema requires at least one), no payer
    /// account, or no batch header.
    fn of(refs: &'a Refs, batch: &BatchInfo, t: &OrderTotals) -> Option<Doc<'a>> {
        let payer = refs.payer.as_ref()?;
        if t.transfers == 0 {
            return None;
        }
        let h = batch.header?;
        Some(Doc {
            payer,
            batch_no: h.batch_no,
            msg_id: format!("LIQ-{}-{}-{}", h.sender, h.batch_no, h.date.0),
            date: h.date.to_string(),
        })
    }

    /// The document up to the first transfer: one payment information block (one debit of the
    /// centre's account).
    fn head(&self, t: &OrderTotals) -> Vec<u8> {
        let (msg_id, date, payer) = (&self.msg_id, &self.date, self.payer);
        let ctrl = fmt_euros(t.transfers_cents);
        let n = t.transfers.to_string();
        let mut x = Xml {
            out: Vec::with_capacity(4096),
            depth: 0,
        };
        x.out
            .extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.out.extend_from_slice(b"<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n");
        x.depth = 1;
        x.open("CstmrCdtTrfInitn");
        x.open("GrpHdr");
        x.leaf("MsgId", msg_id);
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
        x.leaf("ReqdExctnDt", date);
        x.open("Dbtr");
        x.leaf("Nm", &payer.name);
        x.close("Dbtr");
        x.iban("DbtrAcct", payer.account.iban());
        x.open("DbtrAgt");
        x.agent(payer.account.bic());
        x.close("DbtrAgt");
        x.leaf("ChrgBr", "SLEV");
        x.out
    }

    /// One `CdtTrfTxInf`, appended to `out` (inside `PmtInf`: depth 3, the indentation of [`Xml`]).
    /// Written as the element's fixed text with the payee's values in between, rather than element by
    /// element: one per payee, millions per night, it was half of the finish's instructions (issue #13).
    /// The `Xml` writer's layout is pinned against this text by the test
    /// `transfer_text_is_the_xml_writers_layout`.
    fn transfer(&self, out: &mut Vec<u8>, payee: Payee, amount: Cents, seq: u64, a: &BankAccount) {
        let mut row: fmt::Row<TRANSFER_CAP> = fmt::Row::default();
        self.transfer_with(out, &mut row, payee, amount, seq, a);
    }

    /// [`Self::transfer`] with the caller's row array (one a piece of payees): the element is
    /// written into the array through one cursor and copied whole (`fmt::Row`, as the payment
    /// rows: a `Vec` checks its capacity at every field, issue #13); one too long for it is written
    /// again straight into `out` by the same writer, so the bytes never depend on the array.
    fn transfer_with<const N: usize>(
        &self,
        out: &mut Vec<u8>,
        row: &mut fmt::Row<N>,
        payee: Payee,
        amount: Cents,
        seq: u64,
        a: &BankAccount,
    ) {
        let mut w = row.cursor();
        self.transfer_text(&mut w, payee, amount, seq, a);
        match w.bytes() {
            Some(b) => out.extend_from_slice(b),
            None => self.transfer_text(out, payee, amount, seq, a),
        }
    }

    /// The text of [`Self::transfer`].
    #[inline(always)]
    fn transfer_text<O: Out + ?Sized>(
        &self,
        out: &mut O,
        payee: Payee,
        amount: Cents,
        seq: u64,
        a: &BankAccount,
    ) {
        // The reference, written once and copied to its three places.
        let mut e2e_row: fmt::Row<48> = fmt::Row::default();
        let mut c = e2e_row.cursor();
        end_to_end_into(&mut c, self.batch_no, seq);
        let long;
        let e2e: &[u8] = match c.bytes() {
            Some(b) => b,
            None => {
                let mut v = Vec::new();
                end_to_end_into(&mut v, self.batch_no, seq);
                long = v;
                &long
            }
        };
        out.put(b"      <CdtTrfTxInf>\n        <PmtId>\n          <InstrId>");
        out.put(e2e);
        out.put(b"</InstrId>\n          <EndToEndId>");
        out.put(e2e);
        out.put(
            b"</EndToEndId>\n        </PmtId>\n        <Amt>\n          <InstdAmt Ccy=\"EUR\">",
        );
        fmt::euros(out, amount);
        out.put(b"</InstdAmt>\n        </Amt>\n");
        // The account passed `BankAccount::check` (a transfer is made only then): its IBAN and BIC
        // are upper-case letters and digits, nothing to escape — written as they are (scanning
        // them for the five special characters was ≈ 330 instructions a transfer, issue #13).
        let bic = a.bic_bytes();
        if !bic.is_empty() {
            out.put(b"        <CdtrAgt>\n          <FinInstnId>\n            <BIC>");
            out.put(bic);
            out.put(b"</BIC>\n          </FinInstnId>\n        </CdtrAgt>\n");
        }
        out.put(b"        <Cdtr>\n          <Nm>");
        match payee {
            Payee::Practitioner(n) => {
                out.put(b"PS ");
                fmt::at_least(out, n as u64, 9);
            }
            // The bank needs no NIR: the insured is named by the transfer's reference, which
            // payment_orders.tsv maps back to the beneficiary.
            Payee::Insured(_) => out.put(b"ASSURE"),
        }
        out.put(b"</Nm>\n        </Cdtr>\n        <CdtrAcct>\n          <Id>\n            <IBAN>");
        out.put(a.iban_bytes());
        out.put(b"</IBAN>\n          </Id>\n        </CdtrAcct>\n        <RmtInf>\n          <Ustrd>AMO LOT ");
        fmt::u64_(out, self.batch_no as u64);
        out.put(b" DU ");
        out.put(self.date.as_bytes());
        out.put(b" REF ");
        out.put(e2e);
        out.put(b"</Ustrd>\n        </RmtInf>\n      </CdtTrfTxInf>\n");
    }

    /// [`Self::transfer`] element by element with the [`Xml`] writer (the layout of the rest of the
    /// document): the test's reference.
    #[cfg(test)]
    fn transfer_by_elements(
        &self,
        out: &mut Vec<u8>,
        payee: Payee,
        amount: Cents,
        seq: u64,
        a: &BankAccount,
    ) {
        let mut x = Xml {
            out: std::mem::take(out),
            depth: 3,
        };
        let e2e = |o: &mut Vec<u8>| end_to_end_into(o, self.batch_no, seq);
        x.open("CdtTrfTxInf");
        x.open("PmtId");
        x.leaf_with("InstrId", e2e);
        x.leaf_with("EndToEndId", e2e);
        x.close("PmtId");
        x.open("Amt");
        x.indent();
        x.out.extend_from_slice(b"<InstdAmt Ccy=\"EUR\">");
        fmt::euros(&mut x.out, amount);
        x.out.extend_from_slice(b"</InstdAmt>\n");
        x.close("Amt");
        if !a.bic().is_empty() {
            x.open("CdtrAgt");
            x.agent(a.bic());
            x.close("CdtrAgt");
        }
        x.open("Cdtr");
        x.leaf_with("Nm", |o| match payee {
            Payee::Practitioner(n) => {
                o.extend_from_slice(b"PS ");
                fmt::at_least(o, n as u64, 9);
            }
            Payee::Insured(_) => o.extend_from_slice(b"ASSURE"),
        });
        x.close("Cdtr");
        x.iban("CdtrAcct", a.iban());
        x.open("RmtInf");
        x.leaf_with("Ustrd", |o| {
            o.extend_from_slice(b"AMO LOT ");
            fmt::u64_(o, self.batch_no as u64);
            o.extend_from_slice(b" DU ");
            o.extend_from_slice(self.date.as_bytes());
            o.extend_from_slice(b" REF ");
            end_to_end_into(o, self.batch_no, seq);
        });
        x.close("RmtInf");
        x.close("CdtTrfTxInf");
        *out = x.out;
    }

    /// The document after the last transfer.
    fn tail() -> &'static [u8] {
        b"    </PmtInf>\n  </CstmrCdtTrfInitn>\n</Document>\n"
    }
}

/// The text of [`end_to_end`], appended to `o`.
fn end_to_end_into<O: Out + ?Sized>(o: &mut O, batch_no: u32, seq: u64) {
    o.put(b"LIQ");
    fmt::u64_(o, batch_no as u64);
    o.push(b'-');
    fmt::at_least(o, seq, 7);
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
    let doc = Doc::of(refs, batch, t)?;
    let mut out = doc.head(t);
    for d in decisions {
        if let (Ok(Some(seq)), Some(a)) = (d.outcome, d.account.as_ref()) {
            doc.transfer(&mut out, d.payee, d.due.amount(), seq, a);
        }
    }
    out.extend_from_slice(Doc::tail());
    String::from_utf8(out).ok()
}

/// `payment_orders.tsv` and `held_payments.tsv`.
pub fn tables(batch_no: u32, decisions: &[Decision]) -> (String, String) {
    let (mut o, mut h) = (Vec::from(ORDERS_HEADER), Vec::from(HELD_HEADER));
    let mut row: fmt::Row<256> = fmt::Row::default();
    for d in decisions {
        table_rows(
            &mut o,
            &mut h,
            &mut row,
            batch_no,
            d.payee,
            &d.due,
            d.account.as_ref(),
            d.outcome,
        );
    }
    (
        String::from_utf8_lossy(&o).into_owned(),
        String::from_utf8_lossy(&h).into_owned(),
    )
}

/// A payee's id as text: the practitioner's number on 9 digits, the beneficiary's key.
fn payee_id<O: Out + ?Sized>(o: &mut O, p: Payee) {
    match p {
        Payee::Practitioner(n) => fmt::at_least(o, n as u64, 9),
        // The key's text written at once where it has the usual shape (`rows::benef_text`: one a
        // row, millions a night), else by the reference formatter.
        Payee::Insured(k) => match super::rows::benef_text(k) {
            Some(t) => o.put(&t),
            None => fmt::benef(o, k),
        },
    }
}

/// The payee's row of `payment_orders.tsv`, and of `held_payments.tsv` when its transfer is held.
/// The orders row is written into `row` through one cursor and copied whole (`fmt::Row`, as the
/// payment rows: one a payee, millions a night, issue #13); a row too long for it is written again
/// straight into `o` by the same writer, so the bytes never depend on the array.
#[allow(clippy::too_many_arguments)]
fn table_rows<const N: usize>(
    o: &mut Vec<u8>,
    h: &mut Vec<u8>,
    row: &mut fmt::Row<N>,
    batch_no: u32,
    payee: Payee,
    due: &Due,
    account: Option<&BankAccount>,
    outcome: Result<Option<u64>, Hold>,
) {
    let mut w = row.cursor();
    order_row(&mut w, batch_no, payee, due, account, outcome);
    match w.bytes() {
        Some(b) => o.extend_from_slice(b),
        None => order_row(o, batch_no, payee, due, account, outcome),
    }
    if let Err(c) = outcome {
        h.put(payee.kind().as_str().as_bytes());
        fmt::tab(h);
        payee_id(h, payee);
        fmt::tab(h);
        amounts(h, due);
        h.put(c.code().as_bytes());
        fmt::tab(h);
        h.put(c.slug().as_bytes());
        h.push(b'\n');
    }
}

/// A payee's lines, owed, recovered and amount, each followed by a tab.
#[inline(always)]
fn amounts<O: Out + ?Sized>(o: &mut O, due: &Due) {
    fmt::u64_(o, due.lines);
    fmt::tab(o);
    fmt::euros(o, due.owed);
    fmt::tab(o);
    fmt::euros(o, due.recovered);
    fmt::tab(o);
    fmt::euros(o, due.amount());
    fmt::tab(o);
}

/// One row of `payment_orders.tsv`, its line break included.
#[inline(always)]
fn order_row<O: Out + ?Sized>(
    o: &mut O,
    batch_no: u32,
    payee: Payee,
    due: &Due,
    account: Option<&BankAccount>,
    outcome: Result<Option<u64>, Hold>,
) {
    let status: &[u8] = match outcome {
        Ok(Some(seq)) => {
            end_to_end_into(o, batch_no, seq);
            b"TRANSFER"
        }
        Ok(None) => b"NOTHING_DUE",
        Err(_) => b"HELD",
    };
    fmt::tab(o);
    o.put(payee.kind().as_str().as_bytes());
    fmt::tab(o);
    payee_id(o, payee);
    fmt::tab(o);
    amounts(o, due);
    o.put(status);
    fmt::tab(o);
    if let Some(a) = account {
        o.put(a.iban_bytes());
        fmt::tab(o);
        o.put(a.bic_bytes());
    } else {
        fmt::tab(o);
    }
    fmt::tab(o);
    if let Err(c) = outcome {
        o.put(c.code().as_bytes());
    }
    o.push(b'\n');
}

/// Finds the payees' accounts for payees taken in ascending order (one cursor per piece of the
/// sorted list: the beneficiaries' bank rows are read in one forward sweep, `Beneficiaries::bank_from`).
#[derive(Default)]
struct Accounts {
    from: usize,
}

/// Where a payee's account was found by the first pass of the finish, for the second ([`Accounts::at`]):
/// the position of an insured's bank row, or one of these two marks.
type Found = u32;
/// An insured without a bank row.
const NO_ROW: Found = u32::MAX;
/// A practitioner (or a row position too large for a `u32`): looked up again.
const LOOK_UP: Found = u32::MAX - 1;

impl Accounts {
    /// The payee's account, and where it was found.
    fn get(
        &mut self,
        refs: &Refs,
        payee: Payee,
        on: crate::date::Date,
    ) -> (Option<BankAccount>, Found) {
        match payee {
            Payee::Practitioner(_) => (account(refs, payee, on), LOOK_UP),
            Payee::Insured(k) => {
                let (a, next) = refs.beneficiaries.bank_from(k, self.from);
                self.from = next;
                let found = match a {
                    None => NO_ROW,
                    Some(_) => Found::try_from(next)
                        .ok()
                        .filter(|&i| i < LOOK_UP)
                        .unwrap_or(LOOK_UP),
                };
                (a, found)
            }
        }
    }

    /// The payee's account from where the first pass found it: no second search.
    fn at(refs: &Refs, payee: Payee, on: crate::date::Date, found: Found) -> Option<BankAccount> {
        match found {
            NO_ROW => None,
            LOOK_UP => account(refs, payee, on),
            i => refs.beneficiaries.bank_at(i as usize),
        }
    }
}

/// [`decide_one`]'s answer, kept by the first pass of the finish for the second.
type Decided = Result<bool, Hold>;

/// The decision for one payee (`Ok(true)` a transfer, `Ok(false)` nothing due, `Err` held): the rule
/// of [`decide`].
fn decide_one(payer: bool, d: &Due, account: Option<&BankAccount>) -> Result<bool, Hold> {
    if d.amount() <= 0 {
        return Ok(false);
    }
    // No payer account holds everyone (the root cause), before the payee's own account.
    if !payer {
        return Err(Hold::NoPayer);
    }
    match account {
        None => Err(Hold::NoAccount),
        Some(a) => a.check().map(|()| true).map_err(Hold::of),
    }
}

impl Sink for PaymentOrderSink<'_> {
    /// The dues (they only grow until the end), and once finished the end-of-run files' direct
    /// buffers at their most (up to `writeback::LARGE_DIRECT_BYTES` each).
    fn held_bytes(&self) -> usize {
        self.due.bytes().max(self.due_bytes) + self.tail.iter().map(|b| b.held()).sum::<usize>()
    }

    fn window(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        add_due(&mut self.due, events);
        Ok(())
    }

    /// Decides and writes by pieces of the payee list, in parallel (`output::pieces`): a first pass
    /// counts each piece's transfers (the document's head carries the totals, and each transfer's
    /// sequence number is the count before it), the second formats the three files' rows.
    fn finish(&mut self, batch: &BatchInfo) -> Result<(), SinkError> {
        let on = batch.header.map(|h| h.date).unwrap_or_default();
        let batch_no = batch.header.map_or(0, |h| h.batch_no);
        // In payee order, cut into pieces.
        let t = std::time::Instant::now();
        self.due_bytes = self.due.bytes();
        let base = std::mem::take(&mut self.due).into_base();
        crate::engine::tail_step("payment orders: dues merged", t);
        let t = std::time::Instant::now();
        let pieces: Vec<&[DueEntry]> = base.as_slice().chunks(PIECE).collect();
        let refs = self.refs;
        let payer = refs.payer.is_some();
        // The first pass also keeps, per payee, where its account is and the decision (8 bytes a
        // payee, freed with the pass): the second reads the rows directly, without searching again
        // nor checking the IBAN twice.
        let (counts, found): (Vec<OrderTotals>, Vec<Vec<(Found, Decided)>>) = pieces
            .par_iter()
            .map(|piece| {
                let mut t = OrderTotals::default();
                let mut acc = Accounts::default();
                let mut found = Vec::with_capacity(piece.len());
                for DueEntry { key: k, due: d } in *piece {
                    let (a, f) = acc.get(refs, payee_of(*k), on);
                    let decided = decide_one(payer, d, a.as_ref());
                    found.push((f, decided));
                    match decided {
                        Ok(true) => {
                            t.transfers += 1;
                            t.transfers_cents += d.amount();
                        }
                        Ok(false) => t.nothing_due += 1,
                        Err(_) => {
                            t.held += 1;
                            t.held_cents += d.amount();
                        }
                    }
                }
                (t, found)
            })
            .unzip();
        let mut totals = OrderTotals::default();
        // Transfers before each piece: its first sequence number is one more.
        let mut before = Vec::with_capacity(counts.len());
        for c in &counts {
            before.push(totals.transfers);
            totals.transfers += c.transfers;
            totals.transfers_cents += c.transfers_cents;
            totals.held += c.held;
            totals.held_cents += c.held_cents;
            totals.nothing_due += c.nothing_due;
        }
        self.totals = totals;
        crate::engine::tail_step("payment orders: first pass", t);
        let t = std::time::Instant::now();
        let doc = Doc::of(refs, batch, &totals);
        let paths = [ORDERS, HELD, XML].map(|n| self.dir.join(n));
        let paths = &paths;
        let io_err = |i: usize| move |e: std::io::Error| SinkError::Io(paths[i].clone(), e);
        // Each file is written with O_DIRECT by a thread of its own (`output::pieces`), which waits
        // for the disk while the workers format (`output::writeback`); made durable by
        // `WriteBack::finish`.
        let create = |i: usize| -> Result<WriteBack, SinkError> {
            let f = create_private(&paths[i]).map_err(io_err(i))?;
            // Up to 2 MiB a write (`WriteBack::direct_large`: fewer calls, less CPU).
            Ok(WriteBack::direct_large(f))
        };
        let mut orders = create(0)?;
        orders
            .write_all(ORDERS_HEADER.as_bytes())
            .map_err(io_err(0))?;
        let mut held = create(1)?;
        held.write_all(HELD_HEADER.as_bytes()).map_err(io_err(1))?;
        // `payment_orders.xml` exists only when there is a document.
        let mut xml = match &doc {
            Some(d) => {
                let mut w = create(2)?;
                w.write_all(&d.head(&totals)).map_err(io_err(2))?;
                Some(w)
            }
            None => None,
        };
        self.tail = [Some(&orders), Some(&held), xml.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(WriteBack::budget)
            .collect();
        let mut no_xml = std::io::sink();
        let xml_w: &mut (dyn Write + Send) = match xml.as_mut() {
            Some(w) => w,
            None => &mut no_xml,
        };
        write_pieces(
            &mut [&mut orders, &mut held, xml_w],
            &pieces,
            |[o, h, x], k, piece| {
                let mut seq = before.get(k).copied().unwrap_or(0);
                let found = found.get(k).map_or(&[][..], Vec::as_slice);
                // The piece's bank rows read side by side first: their cache misses overlap.
                refs.beneficiaries
                    .read_ahead_banks(found.iter().filter(|f| f.0 < LOOK_UP).map(|f| f.0 as usize));
                let mut row: fmt::Row<256> = fmt::Row::default();
                let mut transfer: fmt::Row<TRANSFER_CAP> = fmt::Row::default();
                for (DueEntry { key, due: d }, &(f, decided)) in piece.iter().zip(found) {
                    let p = payee_of(*key);
                    let a = Accounts::at(refs, p, on, f);
                    let outcome = decided.map(|t| {
                        t.then(|| {
                            seq += 1;
                            seq
                        })
                    });
                    table_rows(o, h, &mut row, batch_no, p, d, a.as_ref(), outcome);
                    if let (Some(doc), Ok(Some(seq)), Some(a)) = (&doc, outcome, a.as_ref()) {
                        doc.transfer_with(x, &mut transfer, p, d.amount(), seq, a);
                    }
                }
            },
        )
        .map_err(|(i, e)| io_err(i)(e))?;
        drop(pieces);
        drop(base);
        crate::engine::tail_step("payment orders: formatted and written", t);
        let t = std::time::Instant::now();
        // Each file made durable as soon as it is whole, here, beside the other sinks' end-of-run
        // work rather than after it (`Staging::sync` then finds clean pages; issue #13).
        orders.finish().map_err(io_err(0))?;
        held.finish().map_err(io_err(1))?;
        if let Some(mut w) = xml {
            w.write_all(Doc::tail())
                .and_then(|()| w.finish())
                .map_err(io_err(2))?;
        }
        crate::engine::tail_step("payment orders: synced", t);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transfer written as fixed text equals the same transfer written element by element by the
    /// document's XML writer: with and without a BIC, a practitioner and an insured, sequence numbers
    /// of 7 and 8 digits, amounts under one euro and in thousands.
    #[test]
    fn transfer_text_is_the_xml_writers_layout() {
        let payer = crate::refs::Payer {
            name: "CPAM TEST".into(),
            account: BankAccount::from_text("FR1420041010050500013M02606", "BNPAFRPP").unwrap(),
        };
        let doc = Doc {
            payer: &payer,
            batch_no: 42,
            msg_id: "LIQ-X-42-0".into(),
            date: "2026-03-16".into(),
        };
        let with_bic =
            BankAccount::from_text("FR1420041010050500013M02606", "BNPAFRPPXXX").unwrap();
        let no_bic = BankAccount::from_text("DE89370400440532013000", "").unwrap();
        let cases = [
            (Payee::Practitioner(7), 5, 1, with_bic),
            (Payee::Insured(123_456), 123_456, 12_345_678, no_bic),
            (Payee::Insured(9), 100_000, 9_999_999, with_bic),
        ];
        for (payee, amount, seq, a) in cases {
            let (mut fast, mut slow) = (b"before".to_vec(), b"before".to_vec());
            doc.transfer(&mut fast, payee, amount, seq, &a);
            doc.transfer_by_elements(&mut slow, payee, amount, seq, &a);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(slow).unwrap()
            );
        }
        // An array too short for the element: written again straight into the buffer, the same
        // bytes.
        for (payee, amount, seq, a) in cases {
            let (mut short, mut long) = (b"x".to_vec(), b"x".to_vec());
            let mut row: fmt::Row<16> = fmt::Row::default();
            doc.transfer_with(&mut short, &mut row, payee, amount, seq, &a);
            doc.transfer(&mut long, payee, amount, seq, &a);
            assert_eq!(short, long);
        }
        // And the text itself, by hand, for the insured without a BIC.
        let mut t = Vec::new();
        doc.transfer(&mut t, Payee::Insured(1), 5, 1, &no_bic);
        assert_eq!(
            String::from_utf8(t).unwrap(),
            "      <CdtTrfTxInf>\n        <PmtId>\n          <InstrId>LIQ42-0000001</InstrId>\n          \
             <EndToEndId>LIQ42-0000001</EndToEndId>\n        </PmtId>\n        <Amt>\n          \
             <InstdAmt Ccy=\"EUR\">0.05</InstdAmt>\n        </Amt>\n        <Cdtr>\n          \
             <Nm>ASSURE</Nm>\n        </Cdtr>\n        <CdtrAcct>\n          <Id>\n            \
             <IBAN>DE89370400440532013000</IBAN>\n          </Id>\n        </CdtrAcct>\n        \
             <RmtInf>\n          <Ustrd>AMO LOT 42 DU 2026-03-16 REF LIQ42-0000001</Ustrd>\n        \
             </RmtInf>\n      </CdtTrfTxInf>\n"
        );
    }

    #[test]
    fn dues_by_payee_add_up_per_payee_and_come_out_in_payee_order() {
        let due = |lines, owed, recovered| Due {
            lines,
            owed,
            recovered,
        };
        let mut d = DueByPayee::default();
        // Paid in this order: an insured, a practitioner, the insured again, another practitioner.
        d.add(Payee::Insured(900), due(1, 1_000, 300));
        d.add(Payee::Practitioner(42), due(1, 2_500, 0));
        d.add(Payee::Insured(900), due(1, 700, 0));
        d.add(Payee::Practitioner(7), due(1, 100, 0));
        assert_eq!(d.len(), 3);
        // Added after a merge of the log into the base (`len` merges): summed with the base's entry.
        d.add(Payee::Practitioner(42), due(2, 50, 0));
        d.add(Payee::Insured(3), due(1, 10, 0));
        // Practitioners before the insured, each by number (the `Payee` order of the files).
        assert_eq!(
            d.into_sorted(),
            vec![
                (Payee::Practitioner(7), due(1, 100, 0)),
                (Payee::Practitioner(42), due(3, 2_550, 0)),
                (Payee::Insured(3), due(1, 10, 0)),
                (Payee::Insured(900), due(2, 1_700, 300)),
            ]
        );
    }

    /// Enough payees for several merges: each payee's due is the sum of its parts, every payee
    /// once, practitioners before the insured — on the heap and in a scratch file.
    #[test]
    fn dues_merged_in_place_sum_each_payee_once_in_payee_order() {
        let dir = std::env::temp_dir().join(format!("liquidator-dues-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dues_merged(DueByPayee::default());
        let d = DueByPayee::in_dir(&dir);
        // in the scratch file where the filesystem allows it (`scratch::KEEPS_BLOCKS`), else on the heap
        assert_eq!(
            matches!(d.base, Store::File(_)),
            crate::states::scratch::keeps_blocks(&dir)
        );
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "file unlinked");
        dues_merged(d);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Review of stop 23 (L2): payees in random order over many merges, new ones landing between
    /// those already merged into the base, and more than [`LOG_MIN`] adds, so that the log also
    /// merges on its own: the same dues as a model map, on the heap and in a scratch file.
    #[test]
    fn dues_added_in_random_order_merge_into_what_a_model_map_holds() {
        let dir = std::env::temp_dir().join(format!("liquidator-dues-rnd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for mut d in [DueByPayee::default(), DueByPayee::in_dir(&dir)] {
            let mut model: std::collections::BTreeMap<Payee, (u64, Cents)> = Default::default();
            let mut x: u64 = 0x5eed_0023;
            let adds = LOG_MIN as u64 * 3 / 2;
            for step in 0..adds {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                // the key space grows with the steps: later payees fall between earlier ones
                let k = (x >> 33) % (1_000 + step / 2);
                let p = if k.is_multiple_of(3) {
                    Payee::Practitioner((k / 3) as u32)
                } else {
                    Payee::Insured(k)
                };
                let owed = ((x >> 20) % 10_000) as Cents - 100;
                d.add(
                    p,
                    Due {
                        lines: 1,
                        owed,
                        recovered: 0,
                    },
                );
                let m = model.entry(p).or_default();
                m.0 += 1;
                m.1 += owed;
                if step % 65_537 == 0 {
                    // `len` merges the log into the base
                    assert_eq!(d.len(), model.len(), "step {step}");
                }
            }
            let all = d.into_sorted();
            assert_eq!(all.len(), model.len());
            for ((p, due), (mp, (lines, owed))) in all.iter().zip(&model) {
                assert_eq!(
                    (p, due.lines, due.owed, due.recovered),
                    (mp, *lines, *owed, 0)
                );
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn dues_merged(mut d: DueByPayee) {
        let n = (3 * PIECE * 16 / 2) as u64;
        // Three passes over the payees, each one's parts 1, 10 and 100 cents: 111 cents, 3 lines.
        for owed in [1, 10, 100] {
            for i in (0..n).rev() {
                let p = if i % 2 == 0 {
                    Payee::Insured(i)
                } else {
                    Payee::Practitioner(i as u32)
                };
                d.add(
                    p,
                    Due {
                        lines: 1,
                        owed,
                        recovered: 0,
                    },
                );
            }
            // Merged into the blocks after each pass (`len` merges the log).
            assert_eq!(d.len() as u64, n);
        }
        let all = d.into_sorted();
        assert_eq!(all.len() as u64, n);
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(all[0].0, Payee::Practitioner(1));
        assert_eq!(all[(n / 2) as usize].0, Payee::Insured(0));
        assert!(all.iter().all(|(_, d)| (d.lines, d.owed) == (3, 111)));
    }
}
