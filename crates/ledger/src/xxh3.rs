//! xxh3-64 (seed 0, the default secret) — the value `xxhash_rust::xxh3` gives, bit for bit — with
//! the long inputs' stripes accumulated 32 bytes at a time with AVX2 where the processor has it
//! (detected at run time), else by the crate itself.
//!
//! Why: the ledger hashes every byte of the night's batch file (`filesum`: 49 MB on a 100 k
//! night, 2.8 GB on a national one), of the state image it maps and of the one it writes, and of
//! each segment and undo chunk it writes or reads (formats/ledger.md: the values are stored). The
//! crate chooses its vector width when it is compiled, and the release build targets every x86-64
//! (SSE2: 16 bytes at a time), so the hash was ≈ 0.8 instructions a byte, a seventh of the
//! instructions the ledger adds to a 100 k night 2 (callgrind, issue #14). With AVX2, and each
//! block's sixteen stripes in one unrolled loop, ≈ 0.3 (that night: 50 → 27 M instructions of
//! hashing, the batch file's, the images' and the chunks').
//!
//! Only the stripe loop (`avx2::stripes`: the accumulation and the scrambling of each 1 KiB
//! block) is vectorised here; the streaming state follows the crate's (`Xxh3Default`: a buffer
//! of 256 bytes, whole buffers consumed, the last stripe kept for the digest), and inputs of at
//! most 240 bytes, whose algorithm is another, are the crate's own. Tests compare every length
//! to 2 KiB and long inputs cut at every kind of boundary with the crate.

use xxhash_rust::xxh3::Xxh3Default;

/// Bytes a stripe, accumulated at once.
const STRIPE: usize = 64;
/// The streaming state's buffer: whole buffers are consumed as they come.
const BUFFER: usize = 256;
/// Stripes a block: the accumulators are scrambled after each.
const STRIPES_A_BLOCK: usize = 16;
/// Longest input of xxh3's short algorithms.
const MID_SIZE_MAX: u64 = 240;

/// xxh3's default secret (the reference implementation's `XXH3_kSecret`).
const SECRET: [u8; 192] = [
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
    0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
    0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
    0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
    0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
    0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
    0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
    0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
    0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
];

/// The 64 bytes of [`SECRET`] from `at`.
const fn secret_at(at: usize) -> [u8; STRIPE] {
    let mut s = [0u8; STRIPE];
    let mut i = 0;
    while i < STRIPE {
        s[i] = SECRET[at + i];
        i += 1;
    }
    s
}

/// The secret of each stripe of a block (it moves 8 bytes a stripe).
const STRIPE_SECRETS: [[u8; STRIPE]; STRIPES_A_BLOCK] = {
    let mut t = [[0u8; STRIPE]; STRIPES_A_BLOCK];
    let mut i = 0;
    while i < STRIPES_A_BLOCK {
        t[i] = secret_at(i * 8);
        i += 1;
    }
    t
};
/// The scrambler's secret: the secret's last 64 bytes.
const SCRAMBLE_SECRET: [u8; STRIPE] = secret_at(192 - STRIPE);
/// The last stripe's secret (7 bytes before the scrambler's).
const LAST_SECRET: [u8; STRIPE] = secret_at(192 - STRIPE - 7);
/// The merge's secret, from byte 11.
const MERGE_SECRET: [u8; STRIPE] = secret_at(11);

const PRIME32_1: u64 = 0x9E37_79B1;
const PRIME32_2: u64 = 0x85EB_CA77;
const PRIME32_3: u64 = 0xC2B2_AE3D;
const PRIME64_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME64_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME64_3: u64 = 0x1656_67B1_9E37_79F9;
const PRIME64_4: u64 = 0x85EB_CA77_C2B2_AE63;
const PRIME64_5: u64 = 0x27D4_EB2F_1656_67C5;

const INITIAL: [u64; 8] = [
    PRIME32_3, PRIME64_1, PRIME64_2, PRIME64_3, PRIME64_4, PRIME32_2, PRIME64_5, PRIME32_1,
];

/// Whether this processor runs AVX2 (the standard library caches the answer).
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The xxh3-64 of `data`: `xxhash_rust::xxh3::xxh3_64`'s value.
pub fn xxh3_64(data: &[u8]) -> u64 {
    if data.len() as u64 <= MID_SIZE_MAX || !has_avx2() {
        return xxhash_rust::xxh3::xxh3_64(data);
    }
    let mut h = Hasher::new();
    h.update(data);
    h.digest()
}

/// A streaming xxh3-64: `xxhash_rust::xxh3::Xxh3`'s value for the bytes given in order.
pub struct Hasher(Inner);

enum Inner {
    /// AVX2 detected: the stripes by [`avx2::stripes`].
    Wide(Box<Wide>),
    /// Otherwise the crate's own.
    Crate(Box<Xxh3Default>),
}

impl Default for Hasher {
    fn default() -> Hasher {
        Hasher::new()
    }
}

impl Hasher {
    pub fn new() -> Hasher {
        if has_avx2() {
            Hasher(Inner::Wide(Box::new(Wide {
                acc: INITIAL,
                buffer: [0; BUFFER],
                buffered: 0,
                stripes: 0,
                total: 0,
            })))
        } else {
            Hasher(Inner::Crate(Box::new(Xxh3Default::new())))
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            Inner::Wide(w) => w.update(data),
            Inner::Crate(c) => c.update(data),
        }
    }

    pub fn digest(&self) -> u64 {
        match &self.0 {
            Inner::Wide(w) => w.digest(),
            Inner::Crate(c) => c.digest(),
        }
    }
}

/// The crate's streaming state (`Xxh3Default`), its stripes accumulated with AVX2. Made only
/// where AVX2 was detected ([`Hasher::new`]).
struct Wide {
    acc: [u64; 8],
    /// Bytes not consumed yet (`buffered` of them, from the start); after a long update, its
    /// last stripe holds the input's last 64 bytes consumed (the digest's catch-up reads them).
    buffer: [u8; BUFFER],
    buffered: usize,
    /// Stripes of the current block accumulated.
    stripes: usize,
    total: u64,
}

impl Wide {
    /// Accumulates `data`'s whole stripes into `acc` ([`avx2::stripes`]).
    fn stripes(acc: &mut [u64; 8], stripes: &mut usize, data: &[u8]) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a `Wide` is made only where AVX2 was detected (`Hasher::new`), the one
        // requirement of calling a function compiled for it.
        #[allow(unsafe_code)]
        unsafe {
            *stripes = avx2::stripes(acc, data, *stripes);
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (acc, stripes, data);
    }

    /// The crate's `xxh3_stateful_update`.
    fn update(&mut self, data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        let room = BUFFER - self.buffered;
        if data.len() <= room {
            self.buffer[self.buffered..self.buffered + data.len()].copy_from_slice(data);
            self.buffered += data.len();
            return;
        }
        let mut rest = data;
        if self.buffered > 0 {
            let (fill, r) = rest.split_at(room);
            self.buffer[self.buffered..].copy_from_slice(fill);
            Self::stripes(&mut self.acc, &mut self.stripes, &self.buffer);
            self.buffered = 0;
            rest = r;
        }
        if rest.len() > BUFFER {
            // Whole buffers, leaving at least one byte and at most a buffer's worth.
            let whole = (rest.len() - 1) / BUFFER * BUFFER;
            let (now, r) = rest.split_at(whole);
            Self::stripes(&mut self.acc, &mut self.stripes, now);
            self.buffer[BUFFER - STRIPE..].copy_from_slice(&now[whole - STRIPE..]);
            rest = r;
        }
        self.buffer[..rest.len()].copy_from_slice(rest);
        self.buffered = rest.len();
    }

    /// The crate's `digest`: its short algorithms up to 240 bytes (all of them in the buffer),
    /// else the last stripes, the last one overlapping, and the merge of the accumulators.
    fn digest(&self) -> u64 {
        if self.total <= MID_SIZE_MAX {
            return xxhash_rust::xxh3::xxh3_64(&self.buffer[..self.buffered]);
        }
        let mut acc = self.acc;
        let mut stripes = self.stripes;
        let n = self.buffered;
        let mut last = [0u8; STRIPE];
        if n >= STRIPE {
            Self::stripes(
                &mut acc,
                &mut stripes,
                &self.buffer[..(n - 1) / STRIPE * STRIPE],
            );
            last.copy_from_slice(&self.buffer[n - STRIPE..n]);
        } else {
            // The stripe ending with the input's last byte: its first bytes were consumed with
            // the buffer before (kept at the buffer's end).
            let catch_up = STRIPE - n;
            last[..catch_up].copy_from_slice(&self.buffer[BUFFER - catch_up..]);
            last[catch_up..].copy_from_slice(&self.buffer[..n]);
        }
        accumulate(&mut acc, &last, &LAST_SECRET);
        let mut h = self.total.wrapping_mul(PRIME64_1);
        for i in 0..4 {
            let s = |j: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&MERGE_SECRET[j * 8..j * 8 + 8]);
                u64::from_le_bytes(b)
            };
            let m = u128::from(acc[2 * i] ^ s(2 * i)) * u128::from(acc[2 * i + 1] ^ s(2 * i + 1));
            h = h.wrapping_add(m as u64 ^ (m >> 64) as u64);
        }
        h ^= h >> 37;
        h = h.wrapping_mul(0x1656_6791_9E37_79F9);
        h ^ h >> 32
    }
}

/// One stripe accumulated (the reference's `XXH3_accumulate_512_scalar`): the digest's last
/// stripe, once a hash.
fn accumulate(acc: &mut [u64; 8], stripe: &[u8; STRIPE], secret: &[u8; STRIPE]) {
    for j in 0..8 {
        let mut d = [0u8; 8];
        d.copy_from_slice(&stripe[j * 8..j * 8 + 8]);
        let mut k = [0u8; 8];
        k.copy_from_slice(&secret[j * 8..j * 8 + 8]);
        let data = u64::from_le_bytes(d);
        let key = data ^ u64::from_le_bytes(k);
        acc[j ^ 1] = acc[j ^ 1].wrapping_add(data);
        acc[j] = acc[j].wrapping_add((key & 0xffff_ffff) * (key >> 32));
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{SCRAMBLE_SECRET, STRIPE, STRIPE_SECRETS, STRIPES_A_BLOCK};
    use core::arch::x86_64::*;

    /// 32 bytes of `b` from `at` (`at + 32 ≤ 64`).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn load(b: &[u8; STRIPE], at: usize) -> __m256i {
        let half = &b[at.min(STRIPE - 32)..][..32];
        // SAFETY: `half` is 32 readable bytes; an unaligned load reads exactly those.
        #[allow(unsafe_code)]
        unsafe {
            _mm256_loadu_si256(half.as_ptr().cast())
        }
    }

    /// One stripe of a block under way (`stripes` of it done), the block scrambled if it ends.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn one_stripe(lo: &mut __m256i, hi: &mut __m256i, s: &[u8; STRIPE], stripes: &mut usize) {
        accumulate(
            lo,
            hi,
            s,
            &STRIPE_SECRETS[(*stripes).min(STRIPES_A_BLOCK - 1)],
        );
        *stripes += 1;
        if *stripes == STRIPES_A_BLOCK {
            *stripes = 0;
            scramble(lo, hi);
        }
    }

    /// One stripe accumulated into the accumulators' two halves (`accumulate_512_avx2`).
    /// Functions, not closures, so that they are compiled for AVX2 and inlined.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn accumulate(lo: &mut __m256i, hi: &mut __m256i, s: &[u8; STRIPE], secret: &[u8; STRIPE]) {
        for (acc, at) in [(lo, 0), (hi, 32)] {
            let data = load(s, at);
            let key = _mm256_xor_si256(data, load(secret, at));
            let product = _mm256_mul_epu32(key, _mm256_srli_epi64::<32>(key));
            let swapped = _mm256_shuffle_epi32::<0b0100_1110>(data);
            *acc = _mm256_add_epi64(product, _mm256_add_epi64(*acc, swapped));
        }
    }

    /// The accumulators scrambled at a block's end (`scramble_acc_avx2`).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn scramble(lo: &mut __m256i, hi: &mut __m256i) {
        let prime = _mm256_set1_epi32(super::PRIME32_1 as i32);
        for (acc, at) in [(lo, 0), (hi, 32)] {
            let v = _mm256_xor_si256(*acc, _mm256_srli_epi64::<47>(*acc));
            let key = _mm256_xor_si256(v, load(&SCRAMBLE_SECRET, at));
            let prod_lo = _mm256_mul_epu32(key, prime);
            let prod_hi = _mm256_mul_epu32(_mm256_srli_epi64::<32>(key), prime);
            *acc = _mm256_add_epi64(prod_lo, _mm256_slli_epi64::<32>(prod_hi));
        }
    }

    /// Accumulates the whole stripes of `data` into `acc`, the first one as stripe `stripes` of
    /// its block, scrambling the accumulators at each block's end (the crate's
    /// `xxh3_stateful_consume_stripes` and `accumulate_512_avx2`, `scramble_acc_avx2`). Returns
    /// the stripes of the block then under way.
    #[target_feature(enable = "avx2")]
    pub(super) fn stripes(acc: &mut [u64; 8], data: &[u8], mut stripes: usize) -> usize {
        let (whole, _) = data.as_chunks::<STRIPE>();
        let mut a = [0u8; 64];
        for (j, v) in acc.iter().enumerate() {
            a[j * 8..j * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        let (mut lo, mut hi) = (load(&a, 0), load(&a, 32));
        // The stripes to the end of the block under way, one by one; then whole blocks, their
        // sixteen stripes' secrets known (the loop unrolled by the compiler); then the rest.
        let to_end = (STRIPES_A_BLOCK - stripes.min(STRIPES_A_BLOCK)) % STRIPES_A_BLOCK;
        let (head, rest) = whole.split_at(to_end.min(whole.len()));
        let (blocks, tail) = rest.as_chunks::<STRIPES_A_BLOCK>();
        for s in head {
            one_stripe(&mut lo, &mut hi, s, &mut stripes);
        }
        for b in blocks {
            for (s, secret) in b.iter().zip(&STRIPE_SECRETS) {
                accumulate(&mut lo, &mut hi, s, secret);
            }
            scramble(&mut lo, &mut hi);
        }
        // Fewer than a block, from a block's start (the head ended one, or `whole` ended first and
        // `tail` is empty): the block never ends here.
        for s in tail {
            one_stripe(&mut lo, &mut hi, s, &mut stripes);
        }
        let mut out = [0u64; 8];
        for (i, v) in [lo, hi].into_iter().enumerate() {
            for (j, o) in out[i * 4..i * 4 + 4].iter_mut().enumerate() {
                // the lanes of a vector, low first (little-endian, as the accumulators)
                *o = match j {
                    0 => _mm256_extract_epi64::<0>(v),
                    1 => _mm256_extract_epi64::<1>(v),
                    2 => _mm256_extract_epi64::<2>(v),
                    _ => _mm256_extract_epi64::<3>(v),
                } as u64;
            }
        }
        *acc = out;
        stripes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                (crate::segments::mix(x) >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn every_length_to_2_kib_hashes_to_the_crates_value() {
        let d = bytes(2048 + 300, 1);
        for n in 0..=2048 {
            let want = xxhash_rust::xxh3::xxh3_64(&d[..n]);
            assert_eq!(xxh3_64(&d[..n]), want, "one shot, {n} bytes");
            let mut h = Hasher::new();
            h.update(&d[..n]);
            assert_eq!(h.digest(), want, "streamed whole, {n} bytes");
            // byte by byte, and from an offset (unaligned loads)
            let mut h = Hasher::new();
            for b in &d[..n] {
                h.update(std::slice::from_ref(b));
            }
            assert_eq!(h.digest(), want, "byte by byte, {n} bytes");
            assert_eq!(
                xxh3_64(&d[300 - n % 7..][..n]),
                xxhash_rust::xxh3::xxh3_64(&d[300 - n % 7..][..n])
            );
        }
    }

    #[test]
    fn long_inputs_cut_anywhere_hash_to_the_crates_value() {
        let d = bytes(300_000, 2);
        let want = xxhash_rust::xxh3::xxh3_64(&d);
        assert_eq!(xxh3_64(&d), want);
        // pieces around every boundary of the state: a stripe, the buffer, a block (1 KiB)
        for piece in [
            1, 63, 64, 65, 191, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 4096, 65_537,
        ] {
            for first in [0, 1, 64, 200, 256, 300] {
                let mut h = Hasher::new();
                h.update(&d[..first]);
                for c in d[first..].chunks(piece) {
                    h.update(c);
                }
                assert_eq!(h.digest(), want, "first {first}, then pieces of {piece}");
            }
        }
        // pieces of random lengths, the digest taken along the way too
        let mut x = 7u64;
        let mut h = Hasher::new();
        let mut at = 0;
        while at < d.len() {
            x = crate::segments::mix(x.wrapping_add(1));
            let n = (x % 3000) as usize;
            let end = (at + n).min(d.len());
            h.update(&d[at..end]);
            at = end;
            assert_eq!(
                h.digest(),
                xxhash_rust::xxh3::xxh3_64(&d[..at]),
                "{at} bytes"
            );
        }
    }

    #[test]
    fn the_wide_state_is_the_one_used_where_avx2_is_detected() {
        // where it is not, the crate's own is used and the tests above compare it with itself
        assert_eq!(matches!(Hasher::new().0, Inner::Wide(_)), has_avx2());
    }
}
