//! The test kit's integration tests, one binary (one link): the generated mix and the record round trip.

mod generator_mix;
mod record_roundtrip;
