//! The stored form of a beneficiary's running state: the core's packed form
//! (`liquidator_core::states::packed`, formats/ledger.md, "benefs"), stored as it is. The engine's
//! shards hold every state in that form too, so that a ledger's carried state enters a shard as a
//! copy of its bytes and a night's final states are committed as copies (issue #14: no decoding into
//! millions of heap-allocated states at the start of a night).

pub use liquidator_core::states::packed::{
    DecodeError, VERSION, decode, encode, encode_pruned, prune, put_varint, validate,
};
