//! Bank details of the payees (columns `iban`, `bic` of `practitioners.tsv` and `beneficiaries.tsv`, and
//! the paying centre's account in `payer.tsv`): stored as read, validated when a payment order is made —
//! a missing or invalid IBAN holds that payee's transfer, it never fails the load nor the night
//! (formats/payment-orders.md).
//!
//! IBAN check (ISO 13616, as the EPC rulebook requires): 2 letters (country), 2 check digits, an
//! alphanumeric BBAN, 15 to 34 characters in all, and the number formed by moving the first four
//! characters to the end and replacing letters by 10…35 is ≡ 1 (mod 97). France (`FR`): 27 characters.

use bytemuck::{Pod, Zeroable};

/// An IBAN and a BIC as read (upper-cased, spaces removed), space-padded: bytes `0..34` the IBAN,
/// `34..45` the BIC (one plain array: the row of the snapshot's `banks` section).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct BankAccount {
    pub bytes: [u8; 48],
}

const IBAN: std::ops::Range<usize> = 0..34;
const BIC: std::ops::Range<usize> = 34..45;

impl Default for BankAccount {
    fn default() -> Self {
        BankAccount { bytes: [b' '; 48] }
    }
}

/// Why a transfer cannot be made to the account given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BankProblem {
    /// No IBAN in the reference table.
    Missing,
    /// An IBAN that fails the format or the mod-97 check.
    InvalidIban,
    /// A BIC given but malformed (a missing BIC is allowed: SEPA transfers are IBAN-only).
    InvalidBic,
}

fn packed<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut out = [b' '; N];
    for (n, c) in s.bytes().filter(|c| *c != b' ').enumerate() {
        // More than N characters: no slot left.
        *out.get_mut(n)? = c.to_ascii_uppercase();
    }
    Some(out)
}

impl BankAccount {
    /// From the two columns (either may be empty). `None` when both are empty; an over-long value is
    /// kept truncated-marked as invalid (an IBAN of 35+ characters becomes `?`, which fails the check).
    pub fn from_text(iban: &str, bic: &str) -> Option<BankAccount> {
        if iban.trim().is_empty() && bic.trim().is_empty() {
            return None;
        }
        let mut a = BankAccount::default();
        match packed::<34>(iban) {
            Some(v) => a.bytes[IBAN].copy_from_slice(&v),
            None => a.bytes[IBAN.start] = b'?',
        }
        match packed::<11>(bic) {
            Some(v) => a.bytes[BIC].copy_from_slice(&v),
            None => a.bytes[BIC.start] = b'?',
        }
        Some(a)
    }
    pub fn iban(&self) -> &str {
        trimmed(&self.bytes[IBAN])
    }
    pub fn bic(&self) -> &str {
        trimmed(&self.bytes[BIC])
    }
    /// The bytes of [`Self::iban`], without its UTF-8 validation when they are ASCII (as every
    /// account read from the tables is, upper-cased): the payment orders write and check one per
    /// payee, millions a night, and the validation was a tenth of their finish (issue #13).
    pub fn iban_bytes(&self) -> &[u8] {
        trimmed_bytes(&self.bytes[IBAN])
    }
    /// The bytes of [`Self::bic`] (as [`Self::iban_bytes`]).
    pub fn bic_bytes(&self) -> &[u8] {
        trimmed_bytes(&self.bytes[BIC])
    }
    /// `Ok` when a transfer can be made to this account.
    pub fn check(&self) -> Result<(), BankProblem> {
        let (iban, bic) = (self.iban_bytes(), self.bic_bytes());
        if iban.is_empty() {
            return Err(BankProblem::Missing);
        }
        if !iban_valid_bytes(iban) {
            return Err(BankProblem::InvalidIban);
        }
        if !bic.is_empty() && !bic_valid_bytes(bic) {
            return Err(BankProblem::InvalidBic);
        }
        Ok(())
    }
}

/// The bytes before the trailing spaces.
fn trimmed_part(b: &[u8]) -> &[u8] {
    let n = b.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
    &b[..n]
}

fn trimmed(b: &[u8]) -> &str {
    std::str::from_utf8(trimmed_part(b)).unwrap_or("?")
}

/// The bytes of [`trimmed`]'s text: ASCII is valid UTF-8, so only other bytes go through it.
fn trimmed_bytes(b: &[u8]) -> &[u8] {
    let t = trimmed_part(b);
    if t.is_ascii() {
        t
    } else {
        trimmed(b).as_bytes()
    }
}

/// mod 97 of the IBAN's digits after rotation (letters A=10 … Z=35); `None` on a character that is
/// neither a digit nor an upper-case letter.
///
/// Digits are accumulated in a `u64` and reduced only when the value reaches 10^15 (then at most two
/// more digits are appended, < 10^17 + 100 < 2^64): about one reduction per 14 digits instead of one
/// per digit (the payment orders check one IBAN per payee, millions per night, issue #13). Reducing
/// later gives the same remainder: (a·10^k + b) mod 97 = ((a mod 97)·10^k + b) mod 97.
fn mod97(rotated: impl Iterator<Item = u8>) -> Option<u32> {
    let mut m: u64 = 0;
    for c in rotated {
        m = mod97_step(m, c)?;
    }
    Some((m % 97) as u32)
}

/// [`mod97`] of the IBAN `b` rotated (its first four characters moved to the end), read as its two
/// slices rather than through a chained iterator (one check a payee, issue #13). Eight characters
/// that are all digits (most of a BBAN: a French one is 23 digits but for the letters of some
/// account numbers) are checked and converted at once in a register (`refs::eight_digits`) and
/// appended to the remainder so far (`m mod 97 × 10^8 + v < 10^11`, within [`mod97_step`]'s bound);
/// any other eight go character by character. Same result as [`mod97`] (test
/// `mod97_of_the_rotated_iban_by_eight_digits_equals_mod97`).
fn mod97_rotated(b: &[u8]) -> Option<u32> {
    let (head, mut tail) = b.split_at(4.min(b.len()));
    let mut m: u64 = 0;
    while let Some((eight, rest)) = tail.split_first_chunk::<8>() {
        match super::eight_digits(eight) {
            Some(v) => m = (m % 97) * 100_000_000 + v,
            None => {
                for &c in eight {
                    m = mod97_step(m, c)?;
                }
            }
        }
        tail = rest;
    }
    for &c in tail {
        m = mod97_step(m, c)?;
    }
    for &c in head {
        m = mod97_step(m, c)?;
    }
    Some((m % 97) as u32)
}

/// One character appended to the running value `m` (< 10^15 on entry), reduced when it reaches
/// 10^15 (see [`mod97`]). The value after the step is below 10^17 + 100 < 2^64: the wrapping
/// operations never wrap, and skip the release profile's overflow checks in this loop.
#[inline(always)]
fn mod97_step(m: u64, c: u8) -> Option<u64> {
    const LIMIT: u64 = 1_000_000_000_000_000;
    let m = match c {
        b'0'..=b'9' => m.wrapping_mul(10).wrapping_add((c - b'0') as u64),
        b'A'..=b'Z' => m.wrapping_mul(100).wrapping_add((c - b'A' + 10) as u64),
        _ => return None,
    };
    Some(if m >= LIMIT { m % 97 } else { m })
}

/// Whether `s` is a well-formed IBAN with correct check digits.
pub fn iban_valid(s: &str) -> bool {
    iban_valid_bytes(s.as_bytes())
}

/// [`iban_valid`] on the text's bytes.
pub fn iban_valid_bytes(b: &[u8]) -> bool {
    if !(15..=34).contains(&b.len())
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || (b.starts_with(b"FR") && b.len() != 27)
    {
        return false;
    }
    // Every character after the fourth a digit or an upper-case letter: `mod97_rotated` refuses
    // any other (`None`), so it is not checked in a pass of its own.
    mod97_rotated(b) == Some(1)
}

/// The IBAN of `country` (2 upper-case letters) and `bban` (digits and upper-case letters), with its
/// check digits: 98 − (BBAN + country + "00") mod 97.
pub fn make_iban(country: &str, bban: &str) -> String {
    let r = mod97(bban.bytes().chain(country.bytes()).chain(*b"00")).unwrap_or(0);
    format!("{country}{:02}{bban}", 98 - r)
}

/// Whether `s` is a well-formed BIC (ISO 9362, the schema's `BICIdentifier` pattern
/// `[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?`).
pub fn bic_valid(s: &str) -> bool {
    bic_valid_bytes(s.as_bytes())
}

/// [`bic_valid`] on the text's bytes.
pub fn bic_valid_bytes(b: &[u8]) -> bool {
    (b.len() == 8 || b.len() == 11)
        && b[..6].iter().all(u8::is_ascii_uppercase)
        && (b[6].is_ascii_uppercase() || (b'2'..=b'9').contains(&b[6]))
        && ((b[7].is_ascii_uppercase() && b[7] != b'O') || b[7].is_ascii_digit())
        && b[8..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte accessors give the bytes of the text accessors: ASCII, other UTF-8 text (kept as
    /// read), bytes that are not UTF-8 (`?`, as the text accessors), empty and full-width fields.
    #[test]
    fn account_bytes_are_the_bytes_of_the_account_text() {
        let mut cases = vec![
            BankAccount::from_text("FR1420041010050500013M02606", "BNPAFRPP").unwrap(),
            BankAccount::from_text("", "BNPAFRPPXXX").unwrap(),
            BankAccount::from_text("DE89370400440532013000", "").unwrap(),
            BankAccount::from_text("FRÉ14", "BNPÀ").unwrap(),
            BankAccount::from_text(&"1".repeat(34), &"A".repeat(11)).unwrap(),
        ];
        let mut raw = BankAccount::default();
        raw.bytes[..3].copy_from_slice(&[b'F', 0xC3, b'R']);
        raw.bytes[34..36].copy_from_slice(&[0xFF, b'A']);
        cases.push(raw);
        for a in cases {
            assert_eq!(a.iban_bytes(), a.iban().as_bytes(), "{a:?}");
            assert_eq!(a.bic_bytes(), a.bic().as_bytes(), "{a:?}");
        }
        assert_eq!(raw.iban_bytes(), b"?");
    }

    /// Published example IBANs (ISO 13616 / EPC examples) and their check digits.
    #[test]
    fn iban_check_digits_of_published_examples() {
        assert!(iban_valid("FR1420041010050500013M02606"));
        assert!(iban_valid("DE89370400440532013000"));
        assert!(iban_valid("GB82WEST12345698765432"));
        assert!(!iban_valid("FR1520041010050500013M02606")); // check digits off by one
        assert!(!iban_valid("FR142004101005050001302606")); // FR must be 27 characters
        assert!(!iban_valid("fr1420041010050500013M02606")); // lower case
        assert_eq!(
            make_iban("FR", "20041010050500013M02606"),
            "FR1420041010050500013M02606"
        );
        assert_eq!(
            make_iban("DE", "370400440532013000"),
            "DE89370400440532013000"
        );
    }

    /// The chunked remainder equals the digit-by-digit one of ISO 7064 (reduce after every
    /// character), for IBAN-shaped strings of every length up to 34 and letters anywhere.
    #[test]
    fn mod97_in_chunks_equals_digit_by_digit() {
        fn by_digit(s: &[u8]) -> Option<u32> {
            let mut m: u32 = 0;
            for &c in s {
                match c {
                    b'0'..=b'9' => m = (m * 10 + (c - b'0') as u32) % 97,
                    b'A'..=b'Z' => m = (m * 100 + (c - b'A' + 10) as u32) % 97,
                    _ => return None,
                }
            }
            Some(m)
        }
        let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ9999999999";
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in 0..=34 {
            for _ in 0..200 {
                let s: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        alphabet[(x % alphabet.len() as u64) as usize]
                    })
                    .collect();
                assert_eq!(mod97(s.iter().copied()), by_digit(&s), "{s:?}");
            }
        }
        // All nines and all Z (the largest values per character), and a stray character.
        assert_eq!(mod97([b'9'; 34].into_iter()), by_digit(&[b'9'; 34]));
        assert_eq!(mod97([b'Z'; 34].into_iter()), by_digit(&[b'Z'; 34]));
        assert_eq!(mod97(b"12a4".iter().copied()), None);
    }

    /// The rotated IBAN's remainder taken eight digits at a time is [`mod97`]'s over the rotated
    /// characters, for IBAN-shaped strings of every length up to 34, all digits or with letters
    /// and other bytes anywhere (a chunk of eight with a letter goes character by character).
    #[test]
    fn mod97_of_the_rotated_iban_by_eight_digits_equals_mod97() {
        let alphabet =
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789012345678901234567890123456789a ";
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for len in 0..=34 {
            for k in 0..400 {
                let s: Vec<u8> = (0..len)
                    .map(|_| {
                        let r = next();
                        // one string in four all digits (the common BBAN)
                        let n = if k % 4 == 0 {
                            10
                        } else {
                            alphabet.len() as u64
                        };
                        alphabet[(r % n) as usize]
                    })
                    .collect();
                let rotated = s.iter().skip(4).chain(s.iter().take(4)).copied();
                assert_eq!(mod97_rotated(&s), mod97(rotated), "{s:?}");
            }
        }
    }

    #[test]
    fn bic_format() {
        assert!(bic_valid("BNPAFRPP"));
        assert!(bic_valid("BNPAFRPPXXX"));
        assert!(!bic_valid("BNPAFRP"));
        assert!(!bic_valid("BNPAFR1P")); // digit 1 not allowed in the 7th position
        assert!(!bic_valid("BNPAFRPO")); // O not allowed in the 8th position
    }

    #[test]
    fn missing_invalid_and_valid_accounts() {
        assert_eq!(BankAccount::from_text("", ""), None);
        let a = BankAccount::from_text("FR14 2004 1010 0505 0001 3M02 606", "bnpafrpp").unwrap();
        assert_eq!(
            (a.iban(), a.bic(), a.check()),
            ("FR1420041010050500013M02606", "BNPAFRPP", Ok(()))
        );
        let a = BankAccount::from_text("", "BNPAFRPP").unwrap();
        assert_eq!(a.check(), Err(BankProblem::Missing));
        let a = BankAccount::from_text("FR1520041010050500013M02606", "").unwrap();
        assert_eq!(a.check(), Err(BankProblem::InvalidIban));
        let a = BankAccount::from_text("FR1420041010050500013M02606", "BNP").unwrap();
        assert_eq!(a.check(), Err(BankProblem::InvalidBic));
        let a = BankAccount::from_text(&"1".repeat(40), "").unwrap();
        assert_eq!(a.check(), Err(BankProblem::InvalidIban));
    }
}
