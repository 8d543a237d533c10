//! The record writer and the record grammar are inverses: every record kind written by the test kit
//! parses back to the same value, and parse errors name their field and column.

use liquidator_core::claims::record::*;
use liquidator_core::codes::Reject;
use liquidator_testkit::write;

#[test]
fn roundtrip_every_record_kind() {
    let h = write::sample_header();
    let rec = write::claim_header(&h);
    assert_eq!(rec.len(), RECORD_LEN);
    assert_eq!(claim_header(&rec).unwrap(), h);
    for l in write::sample_lines() {
        let rec = write::act_line(&l);
        assert_eq!(rec.len(), RECORD_LEN);
        assert_eq!(act_line(&rec).unwrap(), l);
        assert_eq!(act_fee(&rec), Some(l.fee));
    }
}

#[test]
fn errors_name_the_field_and_column() {
    let mut rec = write::claim_header(&write::sample_header());
    rec[5] = b'X'; // inside the claim number (cols 3-11)
    let e = claim_header(&rec).unwrap_err();
    assert_eq!(
        (e.code, e.column, e.field),
        (Reject::Syntax, 3, "claim number")
    );
    let mut rec = write::claim_header(&write::sample_header());
    rec[38..46].copy_from_slice(b"20250230");
    let e = claim_header(&rec).unwrap_err();
    assert_eq!(
        (e.code, e.column, e.field),
        (Reject::BadDate, 39, "birth date")
    );
    let e = claim_header(&rec[..100]).unwrap_err();
    assert_eq!(e.field, "record length");
    let mut rec = write::act_line(&write::sample_lines()[0]);
    rec[60] = 0xC3; // non-ASCII byte in a filler is tolerated…
    assert!(act_line(&rec).is_ok());
    rec[22] = 0xC3; // …but not in a field
    assert_eq!(act_line(&rec).unwrap_err().code, Reject::Syntax);
}
