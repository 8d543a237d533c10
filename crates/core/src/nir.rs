//! NIR (numéro d'inscription au répertoire) syntax and key.
//!
//! RULES.md §5.1 [C: CNAM `assurance-maladie-digital/nir-validation`]: key = 97 − (NIR13 mod 97), after
//! replacing the Corsican departments 2A → 19 and 2B → 18. The replacement is applied only at the
//! department position (characters 6–7), as RULES.md recommends [I], so that a digit pair elsewhere can
//! never be mistaken for a department.

/// Computes the key of a 13-character NIR, or `None` when the NIR is not syntactically valid
/// (13 digits, or digits with `2A`/`2B` at positions 6–7).
pub fn nir_key(nir: &[u8]) -> Option<u8> {
    if nir.len() != 13 {
        return None;
    }
    // Thirteen digits (all but the Corsican NIRs) read eight at a time, as `refs::benef_key` does:
    // the key is checked for every claim (issue #13). Anything else takes the loop below.
    if let (Some(hi), Some(lo)) = (
        nir.get(..8).and_then(crate::refs::eight_digits),
        nir.get(5..13).and_then(crate::refs::eight_digits),
    ) {
        let n = hi * 100_000 + lo % 100_000;
        return Some((97 - (n % 97)) as u8);
    }
    nir_key_bytes(nir)
}

/// [`nir_key`] character by character (any NIR, the Corsican `2A`/`2B` included).
fn nir_key_bytes(nir: &[u8]) -> Option<u8> {
    if nir.len() != 13 {
        return None;
    }
    let mut n: u64 = 0;
    for (i, &c) in nir.iter().enumerate() {
        let d = match (i, c) {
            (_, b'0'..=b'9') => (c - b'0') as u64,
            // Corsica: "2A" → "19", "2B" → "18" (only the department slot).
            (6, b'A') if nir[5] == b'2' => return corsica(nir, b'A'),
            (6, b'B') if nir[5] == b'2' => return corsica(nir, b'B'),
            _ => return None,
        };
        n = n * 10 + d;
    }
    Some((97 - (n % 97)) as u8)
}

fn corsica(nir: &[u8], letter: u8) -> Option<u8> {
    let mut norm = [0u8; 13];
    norm.copy_from_slice(nir);
    norm[5] = b'1';
    norm[6] = if letter == b'A' { b'9' } else { b'8' };
    nir_key_bytes(&norm)
}

/// True when `key` (2 ASCII digits) is the key of `nir`.
pub fn check(nir: &[u8], key: &[u8]) -> bool {
    if key.len() != 2 || !key.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let k = (key[0] - b'0') * 10 + (key[1] - b'0');
    nir_key(nir) == Some(k)
}

/// Masks a NIR for logs and messages: keeps the sex and birth year, hides the rest (`1 85 ** ** *** ***`).
/// Health data must never leak into logs or world-readable files.
pub fn mask(nir: &[u8]) -> String {
    let mut s = String::with_capacity(13);
    for (i, &c) in nir.iter().take(13).enumerate() {
        s.push(if i < 3 && c.is_ascii_graphic() {
            c as char
        } else {
            '*'
        });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_of_ordinary_nir() {
        // 1 85 05 78 006 084 → 97 − (1850578006084 mod 97) = 91
        assert_eq!(nir_key(b"1850578006084"), Some(91));
        assert!(check(b"1850578006084", b"91"));
        assert!(!check(b"1850578006084", b"92"));
        assert!(!check(b"1850578006084", b"9x"));
    }

    /// The key read eight digits at a time is the character loop's, and both refuse the same
    /// NIRs: pseudo-random NIRs, some with a non-digit at any position (Corsican departments too).
    #[test]
    fn nir_key_eight_digits_at_a_time_matches_the_character_loop() {
        let mut rng = crate::states::packed::tests::Mix(0x1234_5678_9abc_def1u64);
        let mut next = || rng.next();
        for _ in 0..300_000 {
            let mut nir = [0u8; 13];
            for c in nir.iter_mut() {
                *c = b'0' + (next() % 10) as u8;
            }
            match next() % 8 {
                0 => {
                    nir[(next() % 13) as usize] =
                        [b'A', b'B', b' ', b':', b'/', 0xB1][(next() % 6) as usize]
                }
                1 => {
                    nir[5] = b'2';
                    nir[6] = if next() % 2 == 0 { b'A' } else { b'B' };
                }
                _ => {}
            }
            assert_eq!(nir_key(&nir), nir_key_bytes(&nir), "{nir:?}");
        }
    }

    #[test]
    fn corsica_departments() {
        // 2A → 19: key computed on 1850519006084
        let k19 = nir_key(b"1850519006084").unwrap();
        assert_eq!(nir_key(b"185052A006084"), Some(k19));
        let k18 = nir_key(b"1850518006084").unwrap();
        assert_eq!(nir_key(b"185052B006084"), Some(k18));
        // A letter anywhere else is invalid.
        assert_eq!(nir_key(b"1850A78006084"), None);
        assert_eq!(nir_key(b"18505x8006084"), None);
    }

    #[test]
    fn mask_hides_identity() {
        assert_eq!(mask(b"1850578006084"), "185**********");
    }
}
