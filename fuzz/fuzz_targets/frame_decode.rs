//! Feeds arbitrary bytes to the frame decoder, as a peer's stream would arrive:
//! it must return frames or an error, never panic, and decoded ROCKETMQ-header
//! frames must re-encode and decode to the same command.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rmq_remoting::codec::{self, FrameLimits, SerializeType};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    let limits = FrameLimits { max_frame: 1 << 20 };
    loop {
        match codec::decode(&mut buf, limits) {
            Ok(Some(cmd)) => {
                let bytes = codec::encode_to_vec(&cmd);
                let mut again = BytesMut::from(&bytes[..]);
                let back = codec::decode(&mut again, FrameLimits { max_frame: usize::MAX })
                    .expect("our own encoding decodes")
                    .expect("complete frame");
                if cmd.serialize_type == SerializeType::RocketMq {
                    assert_eq!(back, cmd);
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    // The JSON and binary header parsers on their own.
    let _ = codec::json_header::decode(data);
    let _ = codec::binary_header::decode(data);
});
