//! Money: integer euro cents, and the one rounding rule of the engine.
//!
//! Architecture invariant: no amount is ever an `f64`. Amounts are `i64` cents; ratios (percentages,
//! coefficients) are exact integers over a power of ten. Every multiplication that can produce a
//! fraction of a cent goes through [`mul_div_round`], which rounds **half-up to the cent** (RULES.md
//! §6.6: the SNDS examples 25.27 × 1.218 → 30.78, 28.92 × 50 % → 14.46). Nothing else rounds.

/// Amount in euro cents.
pub type Cents = i64;

/// `round_half_up(value * num / den)` computed exactly: in `i64` when the product fits, else in `i128`.
///
/// Half-up means away from zero for negative values too (−0.5 → −1), which keeps `round(−x) = −round(x)`
/// so that reversing a payment reverses it to the cent. `den` must be positive.
#[inline]
pub fn mul_div_round(value: i64, num: i64, den: i64) -> i64 {
    debug_assert!(den > 0);
    // The same rule in `i64` when the product fits and `2 × |remainder|` cannot overflow: an `i128`
    // division is a call of ≈ 100 instructions, made several times per paid line (issue #13). The
    // quotient and remainder are the same numbers, so is the result.
    if den > 0
        && den <= i64::MAX / 2
        && let Some(p) = value.checked_mul(num)
    {
        let (q, r) = (p / den, p % den);
        return q + if 2 * r.abs() >= den { p.signum() } else { 0 };
    }
    div_round(value as i128 * num as i128, den as i128) as i64
}

/// The rounding rule itself: `round_half_up(p / d)` in `i128`, `d > 0`, half away from zero.
#[inline]
fn div_round(p: i128, d: i128) -> i128 {
    let q = p / d;
    let r = p % d;
    // `2 * |r|` cannot overflow: |r| < d ≤ i128::MAX / 2 for every caller (d ≤ 10^28 or an i64).
    let adj = if 2 * r.abs() >= d { p.signum() } else { 0 };
    q + adj
}

/// An exact decimal `mantissa × 10^-scale` (as produced by an exact decimal parser, e.g. the official
/// CCAM import's `rust_decimal` cells `33.439999999999998`, `0.49`) rounded to `places` decimals with
/// **the** rule (half-up, away from zero), as an integer scaled by `10^places`: `places = 2` gives cents
/// from euros, or basis points from a percentage. `None` when the result does not fit an `i64` or
/// `scale`/`places` exceed 28 (the largest scale of a 96-bit decimal).
pub fn round_decimal(mantissa: i128, scale: u32, places: u32) -> Option<i64> {
    if scale > 28 || places > 28 {
        return None;
    }
    let v = if scale <= places {
        mantissa.checked_mul(10i128.checked_pow(places - scale)?)?
    } else {
        div_round(mantissa, 10i128.pow(scale - places))
    };
    i64::try_from(v).ok()
}

/// An exact decimal amount in euros (`mantissa × 10^-scale`) to cents, half-up: [`round_decimal`] with 2
/// places.
pub fn decimal_to_cents(mantissa: i128, scale: u32) -> Option<Cents> {
    round_decimal(mantissa, scale, 2)
}

/// Percentages are held in hundredths of a percent (basis points): 70 % = 7000, 21.8 % = 2180.
pub type Bp = i64;
pub const BP_100: Bp = 10_000;

/// `cents × bp / 10000`, rounded half-up.
#[inline]
pub fn pct(cents: Cents, bp: Bp) -> Cents {
    mul_div_round(cents, bp, BP_100)
}

/// Parses a decimal euro amount (`687.27`, `48`, `0.5`, `-3.10`) into cents. At most two decimals:
/// more digits are an error here (the official CCAM import parses its float-like cells exactly and rounds
/// them with [`round_decimal`]).
pub fn parse_euros(s: &str) -> Option<Cents> {
    parse_fixed(s, 2)
}

/// Parses a decimal percentage (`21.8`, `70`) into basis points.
pub fn parse_pct(s: &str) -> Option<Bp> {
    parse_fixed(s, 2)
}

/// Parses a decimal with at most `scale` fractional digits into an integer scaled by 10^scale.
pub fn parse_fixed(s: &str, scale: u32) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    if s.is_empty() {
        return None;
    }
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if frac.len() > scale as usize
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || int.len() > 15
    {
        return None;
    }
    let mut v: i64 = 0;
    for b in int.bytes() {
        v = v * 10 + (b - b'0') as i64;
    }
    let mut f: i64 = 0;
    for b in frac.bytes() {
        f = f * 10 + (b - b'0') as i64;
    }
    f *= 10i64.pow(scale - frac.len() as u32);
    let v = v * 10i64.pow(scale) + f;
    Some(if neg { -v } else { v })
}

/// Formats cents as a decimal euro string with two decimals (`687.27`, `-0.05`).
pub fn fmt_euros(c: Cents) -> String {
    let sign = if c < 0 { "-" } else { "" };
    let a = c.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// Formats basis points as a percentage (`70`, `21.8`, `12.25`).
pub fn fmt_pct(bp: Bp) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    let a = bp.unsigned_abs();
    match a % 100 {
        0 => format!("{sign}{}", a / 100),
        f if f % 10 == 0 => format!("{sign}{}.{}", a / 100, f / 10),
        f => format!("{sign}{}.{:02}", a / 100, f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_div_round_in_i64_gives_the_i128_rule_at_every_edge() {
        // The i64 fast path against the rule computed in i128, on halves, signs, products at the
        // edge of i64 and denominators up to the fast path's bound and past it.
        let vals = [
            0,
            1,
            -1,
            2,
            -2,
            49,
            50,
            51,
            -49,
            -50,
            -51,
            99,
            100,
            101,
            9_999,
            10_000,
            10_001,
            -10_001,
            68_727,
            2_527,
            3_037_000_499,
            3_037_000_500,
            -3_037_000_500,
            i64::MAX,
            i64::MIN + 1,
            i64::MAX / 2,
            i64::MIN / 2,
            999_999_999_999,
        ];
        let dens = [
            1,
            2,
            3,
            7,
            100,
            10_000,
            1_000_000,
            i64::MAX / 2,
            i64::MAX / 2 + 1,
            i64::MAX,
        ];
        let mut rng = crate::states::packed::tests::Mix(0x9E37_79B9_7F4A_7C15);
        let mut rnd = || {
            let x = rng.next();
            x as i64 >> (x % 50)
        };
        let mut cases: Vec<(i64, i64, i64)> = Vec::new();
        for &v in &vals {
            for &n in &vals {
                for &d in &dens {
                    cases.push((v, n, d));
                }
            }
        }
        for _ in 0..200_000 {
            let d = rnd().unsigned_abs().max(1) as i64;
            cases.push((rnd(), rnd(), d));
        }
        for (v, n, d) in cases {
            let exact = div_round(v as i128 * n as i128, d as i128) as i64;
            assert_eq!(mul_div_round(v, n, d), exact, "{v} × {n} / {d}");
        }
        assert_eq!(mul_div_round(5, 1, 10), 1);
        assert_eq!(mul_div_round(-5, 1, 10), -1);
        assert_eq!(mul_div_round(4, 1, 10), 0);
    }

    #[test]
    fn snds_rounding_examples() {
        // RULES.md §6.6: LAQK013 PU 25.27 with modifier Z (+21.8 %) → 30.78.
        assert_eq!(2527 + pct(2527, 2180), 3078);
        assert_eq!(mul_div_round(2527, 1218, 1000), 3078);
        assert_eq!(mul_div_round(2128, 1218, 1000), 2592);
        assert_eq!(pct(2892, 5000), 1446);
    }

    #[test]
    fn half_up_is_symmetric() {
        assert_eq!(mul_div_round(1, 1, 2), 1);
        assert_eq!(mul_div_round(-1, 1, 2), -1);
        assert_eq!(mul_div_round(3, 1, 4), 1);
        assert_eq!(mul_div_round(1, 1, 4), 0);
    }

    #[test]
    fn exact_decimals_round_half_up() {
        // 33.439999999999998 → 33.44; 0.005 → 0.01; 2.675 → 2.68 (exact, no binary drift).
        assert_eq!(decimal_to_cents(33_439_999_999_999_998, 15), Some(3344));
        assert_eq!(decimal_to_cents(5, 3), Some(1));
        assert_eq!(decimal_to_cents(49_999, 7), Some(0));
        assert_eq!(decimal_to_cents(2675, 3), Some(268));
        assert_eq!(decimal_to_cents(-5, 3), Some(-1), "symmetric");
        assert_eq!(decimal_to_cents(48, 0), Some(4800));
        assert_eq!(decimal_to_cents(1045, 1), Some(10450));
        // 29.400000000000002 % → 2940 bp; the fraction 0.49 → 4900 bp (4 places).
        assert_eq!(round_decimal(29_400_000_000_000_002, 15, 2), Some(2940));
        assert_eq!(round_decimal(49, 2, 4), Some(4900));
        assert_eq!(round_decimal(i128::MAX, 0, 2), None);
        assert_eq!(round_decimal(i128::MAX, 28, 2), Some(1_701_411_834_605));
        assert_eq!(round_decimal(1, 29, 2), None);
        assert_eq!(decimal_to_cents(i64::MAX as i128, 0), None);
    }

    #[test]
    fn parse_and_format() {
        assert_eq!(parse_euros("687.27"), Some(68727));
        assert_eq!(parse_euros("48"), Some(4800));
        assert_eq!(parse_euros("0.5"), Some(50));
        assert_eq!(parse_euros("-3.1"), Some(-310));
        assert_eq!(parse_euros("1.234"), None);
        assert_eq!(parse_euros("x"), None);
        assert_eq!(parse_euros(""), None);
        assert_eq!(fmt_euros(68727), "687.27");
        assert_eq!(fmt_euros(-5), "-0.05");
        assert_eq!(parse_pct("21.8"), Some(2180));
        assert_eq!(fmt_pct(2180), "21.8");
        assert_eq!(fmt_pct(7000), "70");
        assert_eq!(fmt_pct(1225), "12.25");
    }
}
