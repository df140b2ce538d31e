//! The lenient fastjson parser on arbitrary bytes: an error or a value, never a panic;
//! a parsed value re-emits and re-parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmq_common::fastjson;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = fastjson::parse_bytes(data) {
        let text = fastjson::to_string(&v, &fastjson::EmitOptions::default());
        let again = fastjson::parse(&text).expect("our own output parses");
        assert_eq!(again, v);
    }
});
