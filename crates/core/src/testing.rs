//! Test helpers shared by the core's unit tests.

/// A fixed-seed xorshift (13, 7, 17): the same pseudo-random cases every run, no dependency.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value of a random bit width below `2^max_bits`, so that every digit count occurs.
    pub(crate) fn width(&mut self, max_bits: u32) -> u64 {
        let v = self.next() >> (64 - max_bits);
        v >> (self.next() % max_bits as u64)
    }

    /// The sequence as a closure, for tests that draw through `next()`.
    pub(crate) fn into_fn(mut self) -> impl FnMut() -> u64 {
        move || self.next()
    }
}
