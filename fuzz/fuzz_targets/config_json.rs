//! The broker config-file readers (`rmq_store::config_files`) on arbitrary bytes:
//! an error or a value, never a panic; a parsed file written in either Java flavor
//! and layout reads back equal, and writing that again gives the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rmq_common::fastjson;
use rmq_store::config_files::{
    ConfigFile, ConsumerFilterFile, ConsumerOffsetFile, ConsumerOrderInfoFile, DelayOffsetFile, JavaFlavor, Layout,
    SubscriptionGroupFile, TopicsFile,
};

fn round_trip<T: ConfigFile>(data: &[u8], parsed: &Option<fastjson::Value>) {
    let direct = T::from_json_bytes(data);
    let Some(v) = parsed else {
        assert!(direct.is_err());
        return;
    };
    let t1 = T::from_json_value(v.clone());
    assert_eq!(t1.is_ok(), direct.is_ok());
    let Ok(t1) = t1 else { return };
    for flavor in [JavaFlavor::V4_9_8, JavaFlavor::V5_3_3] {
        for layout in [Layout::Pretty, Layout::Compact] {
            let text = t1.to_json(flavor, layout);
            let t2 = T::from_json_bytes(text.as_bytes())
                .unwrap_or_else(|e| panic!("{}: own output does not read: {e}\n{text}", T::FILE_NAME));
            assert_eq!(t2, t1, "{} {flavor:?} {layout:?}\n{text}", T::FILE_NAME);
            assert_eq!(t2.to_json(flavor, layout), text);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let parsed = fastjson::parse_bytes(data).ok();
    round_trip::<TopicsFile>(data, &parsed);
    round_trip::<ConsumerOffsetFile>(data, &parsed);
    round_trip::<SubscriptionGroupFile>(data, &parsed);
    round_trip::<DelayOffsetFile>(data, &parsed);
    round_trip::<ConsumerFilterFile>(data, &parsed);
    round_trip::<ConsumerOrderInfoFile>(data, &parsed);
});
