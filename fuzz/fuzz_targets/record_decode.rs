//! The commitlog record decoder on arbitrary bytes: an error or a record, never a
//! panic; a successful decode re-encodes to exactly the bytes it was read from; the
//! in-place view `verify` uses answers exactly what the owned record answers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmq_store::record::{decode, decode_at, encode_blank, Decoded, RecordView};

fn check(buf: &[u8]) {
    match decode(buf) {
        Ok(Decoded::Message(m)) => {
            let bytes = m.encode().expect("a decoded record re-encodes");
            assert_eq!(bytes.len() as i32, m.total_size);
            assert_eq!(&bytes[..], &buf[..bytes.len()], "re-encoding differs");
            assert_eq!(decode(&bytes).expect("own encoding decodes"), Decoded::Message(m.clone()));
            // The accessors verify and dump call on every record.
            let _ = (m.body_crc_ok(), m.offset_msg_id(), m.index_keys(), m.tags_code());
            let v = RecordView::parse(buf).expect("the view parses what decode parsed");
            assert_eq!(v.property_crc(), m.property_crc());
            assert_eq!((v.body_crc_ok(), v.is_dispatched_to_cq()), (m.body_crc_ok(), m.is_dispatched_to_cq()));
            for k in m.properties.keys().map(String::as_str).chain(["__CRC32#", "TAGS", "KEYS", "", "\u{fffd}"]) {
                assert_eq!(v.property(k).as_deref(), m.property(k), "property {k:?}");
            }
        }
        Ok(Decoded::Blank { total_size }) => {
            let mut b = Vec::new();
            encode_blank(total_size, &mut b);
            assert_eq!(&b[..], &buf[..8]);
        }
        Err(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    // A second record start chosen by the first byte, as a scan would reach it.
    if let Some(&b) = data.first() {
        let pos = b as usize % (data.len() + 2);
        match (decode_at(data, pos), data.get(pos..)) {
            (Ok(_), Some(rest)) => check(rest),
            (Ok(_), None) => panic!("decode_at succeeded past the end"),
            (Err(_), _) => {}
        }
    }
});
