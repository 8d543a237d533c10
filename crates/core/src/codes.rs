//! The closed list of rejection and warning codes (documented in `formats/codes.md`).
//!
//! Architecture invariant: every rejection the engine writes carries one of these codes; the list is
//! closed (an enum), so a new reason is a reviewed change here, in `formats/codes.md` and in a fixture.

use std::fmt;

macro_rules! codes {
    ($name:ident { $($var:ident = $code:literal, $slug:literal, $text:literal;)* }) => {
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub enum $name { $($var,)* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$var,)*];
            /// The stable code written in output files (`R020`).
            pub fn code(self) -> &'static str { match self { $($name::$var => $code,)* } }
            /// A short stable mnemonic (`NIR_KEY`).
            pub fn slug(self) -> &'static str { match self { $($name::$var => $slug,)* } }
            /// Human description.
            pub fn text(self) -> &'static str { match self { $($name::$var => $text,)* } }
            pub fn from_code(s: &str) -> Option<$name> { match s { $($code => Some($name::$var),)* _ => None } }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.code()) }
        }
    };
}

codes!(Reject {
    Syntax = "R001", "SYNTAX", "record syntax error (length, non-digit in a numeric field, unknown record type)";
    Orphan = "R002", "ORPHAN_RECORD", "act or end record outside a claim";
    ClaimMismatch = "R003", "CLAIM_NUMBER_MISMATCH", "record claim number differs from its claim header";
    LineCount = "R004", "LINE_COUNT", "end-of-claim line count differs from the act lines read, or end record missing";
    ClaimTotal = "R005", "CLAIM_TOTAL", "end-of-claim total differs from the sum of the act lines";
    NoLines = "R006", "NO_ACT_LINE", "claim without any act line";
    BadDate = "R010", "BAD_DATE", "impossible date";
    FutureCare = "R011", "CARE_AFTER_BATCH", "date of care after the batch date";
    TimeLimit = "R012", "TIME_LIMIT", "care older than the time limit (27 months) before the batch date";
    NirKey = "R020", "NIR_KEY", "NIR syntax or key invalid";
    BirthDate = "R021", "BIRTH_DATE_MISMATCH", "birth date differs from the beneficiary table";
    BenefUnknown = "R022", "BENEFICIARY_UNKNOWN", "beneficiary (NIR, rank) unknown";
    RightsClosed = "R023", "RIGHTS_CLOSED", "no open AMO rights on the date of care";
    Duplicate = "R030", "DUPLICATE_CLAIM", "claim number already seen for this practitioner in the batch";
    ClaimPaidEarlier = "R031", "CLAIM_PAID_EARLIER", "claim number already paid for this practitioner by an earlier batch (ledger)";
    ClaimReadEarlier = "R032", "CLAIM_READ_EARLIER", "claim number already read and rejected for this practitioner in an earlier batch (ledger)";
    ActPaidEarlier = "R033", "ACT_PAID_EARLIER", "act (beneficiary, practitioner, date of care, code, activity, phase) already paid by an earlier batch (ledger)";
    PracUnknown = "R040", "PRACTITIONER_UNKNOWN", "practitioner unknown or not in activity on the date of care";
    NotConventioned = "R041", "NOT_CONVENTIONED", "practitioner not under convention on the date of care";
    AtMissing = "R052", "AT_NUMBER_MISSING", "work accident (nature 41) without accident number or date";
    BadNature = "R053", "BAD_NATURE", "nature of insurance not in {10,13,30,41,90}";
    ActUnknown = "R060", "ACT_UNKNOWN", "CCAM code unknown or not valid on the date of care";
    NgapUnknown = "R061", "NGAP_UNKNOWN", "NGAP letter unknown or without value on the date of care";
    ActivityPhase = "R062", "ACTIVITY_PHASE", "activity/phase does not exist for the act, or has no tariff on the grid";
    Quantity = "R063", "BAD_QUANTITY", "quantity or coefficient zero";
    ModifierNotAllowed = "R070", "MODIFIER_NOT_ALLOWED", "modifier not allowed for the act and activity, unknown on the grid, or repeated";
    ModifierExclusive = "R071", "MODIFIER_EXCLUSIVE", "exclusive modifier (F, U, P, S) billed more than once per practitioner and day";
    AssocCode = "R080", "ASSOCIATION_CODE", "association code inconsistent with the association rules";
    ConsultAssoc = "R081", "CONSULTATION_WITH_ACT", "CCAM act associated with a consultation the same day";
    Incompatible = "R090", "INCOMPATIBLE_ACTS", "incompatible acts billed together (the lower-priced line is rejected)";
});

/// What a rejection condemns (`formats/codes.md`, "Scope"): the whole claim, or only the line at
/// fault — the rest of the claim is then liquidated without it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scope {
    Claim,
    Line,
}

impl Reject {
    /// The scope of a rejection code. Claim level: the record could not be read, the claim's parties
    /// or rights fail, or the claim is a duplicate — nothing in it can be paid. Line level: the fault is
    /// in one act (its date, code, activity, quantity, modifiers, association, or its compatibility
    /// with the other acts of the session) and the other acts are payable.
    pub fn scope(self) -> Scope {
        match self {
            Reject::FutureCare
            | Reject::TimeLimit
            | Reject::ActUnknown
            | Reject::NgapUnknown
            | Reject::ActivityPhase
            | Reject::Quantity
            | Reject::ModifierNotAllowed
            | Reject::ModifierExclusive
            | Reject::AssocCode
            | Reject::ConsultAssoc
            | Reject::Incompatible
            | Reject::ActPaidEarlier => Scope::Line,
            _ => Scope::Claim,
        }
    }
}

codes!(Warn {
    ExcessSector1 = "W101", "EXCESS_WITHOUT_QUALIFIER", "excess fee by a sector-1 practitioner without a valid qualifier";
    FeeBelowBase = "W102", "FEE_BELOW_TARIFF", "fee billed below the tariff: base limited to the fee";
    C2sExcess = "W103", "C2S_EXCESS", "excess fee billed to a C2S beneficiary";
    AmcMismatch = "W104", "AMC_MISMATCH", "complementary insurer on the claim differs from the beneficiary table";
    PfYearCap = "W110", "PF_YEAR_CAP", "participation forfaitaire reduced or waived: yearly cap reached";
    PfDayCap = "W111", "PF_DAY_CAP", "participation forfaitaire waived: 4 per day with this practitioner already charged";
    FranchiseYearCap = "W112", "FRANCHISE_YEAR_CAP", "franchise médicale reduced or waived: yearly cap reached";
    FranchiseDayCap = "W113", "FRANCHISE_DAY_CAP", "franchise médicale reduced or waived: daily cap on paramedical acts reached";
    PriorAgreement = "W120", "PRIOR_AGREEMENT_NOT_CHECKED", "CCAM act subject to prior agreement (AP): paid, agreement not verifiable from the claim";
    RcConditionNotStated = "W121", "RC_CONDITION_NOT_STATED", "CCAM act reimbursable under conditions (RC) billed without a condition code";
});

// Batch-level failures: the batch is untrustworthy, no payment file is written.
codes!(BatchFail {
    Empty = "B001", "EMPTY_FILE", "empty file";
    NoHeader = "B002", "NO_BATCH_HEADER", "first record is not a valid batch header";
    NoTrailer = "B003", "NO_BATCH_TRAILER", "batch trailer missing (truncated transfer?)";
    CountMismatch = "B004", "TRAILER_COUNTS", "trailer claim or line count differs from the records read";
    TotalMismatch = "B005", "TRAILER_TOTAL", "trailer billed total differs from the act lines";
    BatchNumber = "B006", "BATCH_NUMBER", "trailer batch number differs from the header";
    AfterTrailer = "B007", "DATA_AFTER_TRAILER", "records after the batch trailer";
});
