//! The pseudonyms of a row group four at a time: BLAKE3's `keyed_hash` of four `NIR-rank` inputs
//! (17 bytes each: one block of one chunk, a single compression) computed side by side, one input
//! per 32-bit lane of SSE2 registers.
//!
//! Why: one compression is a chain of about 900 dependent operations; the `blake3` crate runs it
//! as fast as one input allows (its SIMD spreads the columns of one state over a register's lanes),
//! so that a paid claim's pseudonym cost the writer thread ≈ 90 ns, mostly waiting on that chain
//! (`perf`, 1 M day, 1 thread: 495 samples at 4 999 Hz in `compress_in_place_avx512` and
//! `keyed_hash`, of the export's ≈ 4 300). Four independent inputs fill the lanes instead: the same
//! operations, a fourth as many chains — 175 samples. Plain `[u32; 8]` array code left to the
//! compiler's vectoriser did not beat the crate (README "Performance", tried in an earlier pass):
//! hence the intrinsics, and the crate's one `unsafe` (see [`keyed_hash4`]).
//!
//! The result is `blake3::keyed_hash(key, input)`'s first 8 bytes, bit for bit (the test
//! `four_lanes_give_blake3s_keyed_hash` compares them on inputs of lengths around the words and
//! the block; formats/parquet.md, "Beneficiary", is unchanged).

/// BLAKE3's initialisation vector (the first 32 bits of the fractional parts of the square roots
/// of the first 8 primes, as SHA-256's).
const IV: [u32; 8] = [
    0x6A09_E667,
    0xBB67_AE85,
    0x3C6E_F372,
    0xA54F_F53A,
    0x510E_527F,
    0x9B05_688C,
    0x1F83_D9AB,
    0x5BE0_CD19,
];

/// The message words each round reads, in order (BLAKE3's permutation applied 0..6 times).
const SCHEDULE: [[usize; 16]; 7] = {
    const PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
    let mut s = [[0usize; 16]; 7];
    let mut i = 0;
    while i < 16 {
        s[0][i] = i;
        i += 1;
    }
    let mut r = 1;
    while r < 7 {
        let mut i = 0;
        while i < 16 {
            s[r][i] = s[r - 1][PERMUTATION[i]];
            i += 1;
        }
        r += 1;
    }
    s
};

/// `CHUNK_START | CHUNK_END | ROOT | KEYED_HASH`: the one block of a keyed hash of ≤ 64 bytes.
const FLAGS: u32 = 1 | 2 | 8 | 16;

/// The longest input: one block.
pub(super) const BLOCK: usize = 64;

/// The first 8 bytes (little-endian, as `i64`) of `blake3::keyed_hash(key, input)` for four inputs
/// of `N` ≤ [`BLOCK`] bytes each (checked when compiled); `key` is the 32-byte key as 8
/// little-endian words ([`key_words`]).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
pub(super) fn keyed_hash4<const N: usize>(key: &[u32; 8], inputs: [&[u8; N]; 4]) -> [i64; 4] {
    const { assert!(N <= BLOCK, "one block: at most 64 bytes") };
    // The only `unsafe` of the crate (allowed here alone): calling a function compiled for SSE2,
    // which the build's target has (the `cfg` above checks it when compiled; every x86-64
    // processor has SSE2). Its intrinsics read and write registers only, no memory.
    #[allow(unsafe_code)]
    // SAFETY: the target feature the function enables is enabled for the whole build.
    unsafe {
        sse2::keyed_hash4(key, inputs)
    }
}

/// [`keyed_hash4`] on another target: the `blake3` crate's hash, input by input.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
pub(super) fn keyed_hash4<const N: usize>(key: &[u32; 8], inputs: [&[u8; N]; 4]) -> [i64; 4] {
    by_crate(key, inputs)
}

/// The `blake3` crate's hash, input by input: [`keyed_hash4`] on a target without SSE2. Compiled
/// on every target so that the tests run it where they run (x86-64 only, today): a fallback
/// compiled only elsewhere would never be built nor checked by this project's CI.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
fn by_crate<const N: usize>(key: &[u32; 8], inputs: [&[u8; N]; 4]) -> [i64; 4] {
    const { assert!(N <= BLOCK, "one block: at most 64 bytes") };
    let mut k = [0u8; 32];
    for (b, w) in k.chunks_exact_mut(4).zip(key) {
        b.copy_from_slice(&w.to_le_bytes());
    }
    inputs.map(|i| {
        let h = blake3::keyed_hash(&k, i);
        let b = h.as_bytes();
        i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    })
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use super::{BLOCK, FLAGS, IV, SCHEDULE};
    use std::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_cvtsi128_si32, _mm_or_si128, _mm_set_epi32, _mm_set1_epi32,
        _mm_shuffle_epi32, _mm_shufflehi_epi16, _mm_shufflelo_epi16, _mm_slli_epi32,
        _mm_srli_epi32, _mm_xor_si128,
    };

    /// Four lanes of 32 bits, one per input.
    type V = __m128i;

    #[inline]
    #[target_feature(enable = "sse2")]
    fn splat(x: u32) -> V {
        _mm_set1_epi32(x as i32)
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn lanes(l: [u32; 4]) -> V {
        _mm_set_epi32(l[3] as i32, l[2] as i32, l[1] as i32, l[0] as i32)
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn words(v: V) -> [u32; 4] {
        [
            _mm_cvtsi128_si32(v) as u32,
            _mm_cvtsi128_si32(_mm_shuffle_epi32::<0b01>(v)) as u32,
            _mm_cvtsi128_si32(_mm_shuffle_epi32::<0b10>(v)) as u32,
            _mm_cvtsi128_si32(_mm_shuffle_epi32::<0b11>(v)) as u32,
        ]
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn add(a: V, b: V) -> V {
        _mm_add_epi32(a, b)
    }

    /// `(a ^ b).rotate_right(N)` per lane (`M` = 32 − `N`: const generics cannot compute it).
    #[inline]
    #[target_feature(enable = "sse2")]
    fn xor_rotr<const N: i32, const M: i32>(a: V, b: V) -> V {
        let x = _mm_xor_si128(a, b);
        if N == 16 {
            // A swap of each lane's 16-bit halves: two shuffles instead of two shifts and an or.
            _mm_shufflehi_epi16::<0b1011_0001>(_mm_shufflelo_epi16::<0b1011_0001>(x))
        } else {
            _mm_or_si128(_mm_srli_epi32::<N>(x), _mm_slli_epi32::<M>(x))
        }
    }

    /// BLAKE3's quarter-round on columns or diagonals `a, b, c, d` with message words `x`, `y`.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn g(s: &mut [V; 16], (a, b, c, d): (usize, usize, usize, usize), x: V, y: V) {
        s[a] = add(add(s[a], s[b]), x);
        s[d] = xor_rotr::<16, 16>(s[d], s[a]);
        s[c] = add(s[c], s[d]);
        s[b] = xor_rotr::<12, 20>(s[b], s[c]);
        s[a] = add(add(s[a], s[b]), y);
        s[d] = xor_rotr::<8, 24>(s[d], s[a]);
        s[c] = add(s[c], s[d]);
        s[b] = xor_rotr::<7, 25>(s[b], s[c]);
    }

    /// [`super::keyed_hash4`]: BLAKE3's compression of one block per lane.
    #[target_feature(enable = "sse2")]
    pub(super) fn keyed_hash4<const N: usize>(key: &[u32; 8], inputs: [&[u8; N]; 4]) -> [i64; 4] {
        // The message block, one input per lane: its bytes padded with zeros, as little-endian
        // words.
        let mut block_words = [[0u32; 4]; 16];
        for (lane, input) in inputs.iter().enumerate() {
            let mut block = [0u8; BLOCK];
            if let Some(b) = block.get_mut(..N) {
                b.copy_from_slice(&input[..]);
            }
            for (w, b) in block_words.iter_mut().zip(block.chunks_exact(4)) {
                w[lane] = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        let m = block_words.map(|w| lanes(w));
        let s = &mut [splat(0); 16];
        for (v, &k) in s.iter_mut().zip(key) {
            *v = splat(k);
        }
        for (v, &k) in s[8..12].iter_mut().zip(&IV) {
            *v = splat(k);
        }
        // Counter 0 (words 12, 13), the block's length, the flags.
        s[14] = splat(N as u32);
        s[15] = splat(FLAGS);
        for r in &SCHEDULE {
            g(s, (0, 4, 8, 12), m[r[0]], m[r[1]]);
            g(s, (1, 5, 9, 13), m[r[2]], m[r[3]]);
            g(s, (2, 6, 10, 14), m[r[4]], m[r[5]]);
            g(s, (3, 7, 11, 15), m[r[6]], m[r[7]]);
            g(s, (0, 5, 10, 15), m[r[8]], m[r[9]]);
            g(s, (1, 6, 11, 12), m[r[10]], m[r[11]]);
            g(s, (2, 7, 8, 13), m[r[12]], m[r[13]]);
            g(s, (3, 4, 9, 14), m[r[14]], m[r[15]]);
        }
        // The output's words 0 and 1: state[i] ^ state[i + 8].
        let (w0, w8, w1, w9) = (words(s[0]), words(s[8]), words(s[1]), words(s[9]));
        std::array::from_fn(|l| (u64::from(w0[l] ^ w8[l]) | u64::from(w1[l] ^ w9[l]) << 32) as i64)
    }
}

/// The key as BLAKE3's chaining value: 8 little-endian words.
pub(super) fn key_words(key: &[u8; 32]) -> [u32; 8] {
    let mut w = [0u32; 8];
    for (w, b) in w.iter_mut().zip(key.chunks_exact(4)) {
        *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(key: &[u8; 32], input: &[u8]) -> i64 {
        let h = blake3::keyed_hash(key, input);
        let b = h.as_bytes();
        i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    #[test]
    fn four_lanes_give_blake3s_keyed_hash() {
        let key = blake3::derive_key("liquidator test", b"a secret of the test");
        let words = key_words(&key);
        // Inputs of lengths around the words and the block, four different ones per call.
        fn check<const N: usize>(key: &[u8; 32], words: &[u32; 8]) {
            let bytes: Vec<u8> = (0..400u32).map(|i| (i * 37 + 11) as u8).collect();
            for start in [0, 1, 100, 333] {
                let input = |k: usize| -> [u8; N] {
                    std::array::from_fn(|i| bytes[(start + 7 * k + i) % bytes.len()])
                };
                let inputs = [input(0), input(1), input(2), input(3)];
                let four = [&inputs[0], &inputs[1], &inputs[2], &inputs[3]];
                let got = keyed_hash4(words, four);
                for (g, i) in got.iter().zip(&inputs) {
                    assert_eq!(*g, reference(key, i), "input of {N} bytes");
                }
                assert_eq!(
                    by_crate(words, four),
                    got,
                    "the other targets' path, {N} bytes"
                );
            }
        }
        check::<0>(&key, &words);
        check::<1>(&key, &words);
        check::<3>(&key, &words);
        check::<4>(&key, &words);
        check::<16>(&key, &words);
        check::<17>(&key, &words);
        check::<31>(&key, &words);
        check::<32>(&key, &words);
        check::<33>(&key, &words);
        check::<63>(&key, &words);
        check::<64>(&key, &words);
        // NIR-rank texts, one lane repeated.
        let nirs: [&[u8; 17]; 4] = [
            b"1850578006084-001",
            b"2850578006084-002",
            b"1991299999999-999",
            b"1850578006084-001",
        ];
        let got = keyed_hash4(&words, nirs);
        for (g, i) in got.iter().zip(nirs) {
            assert_eq!(*g, reference(&key, i));
        }
        assert_eq!(by_crate(&words, nirs), got);
    }
}
