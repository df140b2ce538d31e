//! Reassembly tests with synthetic packets.

use std::path::Path;

use crate::pcap::{parse, Capture, TcpFlags, Timestamp};
use crate::synth::{PcapWriter, Pkt};

const ACK: u8 = TcpFlags::ACK;
const SYN: u8 = TcpFlags::SYN;
const PSH_ACK: u8 = TcpFlags::PSH | TcpFlags::ACK;

/// A remoting frame with a JSON "header" `h` and no body.
fn frame(h: &str) -> Vec<u8> {
    let mut f = ((4 + h.len()) as i32).to_be_bytes().to_vec();
    f.extend_from_slice(&(h.len() as u32).to_be_bytes());
    f.extend_from_slice(h.as_bytes());
    f
}

fn capture(pkts: &[Pkt]) -> Capture {
    let mut w = PcapWriter::new(false, false);
    for p in pkts {
        w.packet(p);
    }
    Capture::from_file(&parse(Path::new("t.pcap"), &w.finish()).unwrap()).unwrap()
}

fn ts(secs: u64, micros: u32) -> Timestamp {
    Timestamp { secs, nanos: micros * 1000 }
}

fn handshake(client: u16, server: u16, cisn: u32, sisn: u32) -> Vec<Pkt> {
    vec![
        Pkt::new(client, server).seq(cisn).flags(SYN).at(1, 0),
        Pkt::new(server, client).seq(sisn).flags(SYN | ACK).at(1, 1000),
        Pkt::new(client, server).seq(cisn.wrapping_add(1)).flags(ACK).at(1, 2000),
    ]
}

#[test]
fn syn_consumes_one_sequence_number_and_frames_get_completion_time() {
    let f1 = frame(r#"{"code":105}"#);
    let f2 = frame(r#"{"code":0,"flag":1}"#);
    let mut pkts = handshake(40000, 19876, 1000, 5000);
    // Request split over two packets; the frame is complete with the second.
    pkts.push(Pkt::new(40000, 19876).seq(1001).flags(PSH_ACK).payload(&f1[..6]).at(2, 0));
    pkts.push(Pkt::new(40000, 19876).seq(1007).flags(PSH_ACK).payload(&f1[6..]).at(2, 500));
    pkts.push(Pkt::new(19876, 40000).seq(5001).flags(PSH_ACK).payload(&f2).at(3, 0));
    let cap = capture(&pkts);
    assert_eq!(cap.connections.len(), 1);
    let c = &cap.connections[0];
    assert!(c.opened_in_capture);
    assert_eq!(c.client.port(), 40000);
    assert_eq!(c.to_server.data, f1);
    assert_eq!(c.to_client.data, f2);
    let frames = cap.remoting_frames(1 << 20).unwrap();
    assert_eq!(frames.len(), 2);
    assert!(frames[0].from_client);
    assert_eq!(frames[0].ts, ts(2, 500));
    assert_eq!(frames[0].bytes.as_ref(), &f1[..]);
    assert_eq!(frames[1].ts, ts(3, 0));
    assert!(!frames[1].from_client);
    assert_eq!(c.closed_at(), None);
}

#[test]
fn out_of_order_segments_wait_for_the_gap() {
    let f1 = frame(r#"{"a":"first frame"}"#);
    let f2 = frame(r#"{"b":"second"}"#);
    let all: Vec<u8> = [f1.clone(), f2.clone()].concat();
    let mut pkts = handshake(40001, 19876, 0, 0);
    // Bytes 10.. arrive first, then 0..10 at t=5.
    pkts.push(Pkt::new(40001, 19876).seq(11).flags(PSH_ACK).payload(&all[10..]).at(4, 0));
    pkts.push(Pkt::new(40001, 19876).seq(1).flags(PSH_ACK).payload(&all[..10]).at(5, 0));
    let cap = capture(&pkts);
    let c = &cap.connections[0];
    assert_eq!(c.to_server.data, all);
    assert_eq!(c.to_server.stats.out_of_order_segments, 1);
    assert_eq!(c.to_server.unassembled_bytes(), 0);
    let frames = cap.remoting_frames(1 << 20).unwrap();
    assert_eq!(frames.len(), 2);
    // Both frames were completed by the late packet.
    assert!(frames.iter().all(|f| f.ts == ts(5, 0)));
    assert_eq!(frames[1].bytes.as_ref(), &f2[..]);
}

#[test]
fn retransmits_and_overlaps_are_deduplicated() {
    let f1 = frame(r#"{"code":103,"x":"yyyyyyyyyy"}"#);
    let mut pkts = handshake(40002, 19876, 77, 0);
    pkts.push(Pkt::new(40002, 19876).seq(78).flags(PSH_ACK).payload(&f1[..20]).at(2, 0));
    pkts.push(Pkt::new(40002, 19876).seq(78).flags(PSH_ACK).payload(&f1[..20]).at(2, 100)); // exact dup
    pkts.push(Pkt::new(40002, 19876).seq(78 + 10).flags(PSH_ACK).payload(&f1[10..30]).at(2, 200)); // overlap
    let mut wrong = f1[25..].to_vec();
    wrong[0] ^= 0xff;
    pkts.push(Pkt::new(40002, 19876).seq(78 + 25).flags(PSH_ACK).payload(&wrong).at(2, 300)); // conflicting overlap
    let cap = capture(&pkts);
    let h = &cap.connections[0].to_server;
    assert_eq!(h.data, f1, "first copy wins");
    assert_eq!(h.stats.duplicate_bytes, 20 + 10 + 5);
    assert_eq!(h.stats.conflicting_bytes, 1);
    let frames = cap.remoting_frames(1 << 20).unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].ts, ts(2, 300));
}

#[test]
fn fin_and_rst_are_detected_with_timestamps() {
    let f1 = frame("{}");
    let mut pkts = handshake(40003, 19876, 10, 20);
    pkts.push(Pkt::new(40003, 19876).seq(11).flags(PSH_ACK | TcpFlags::FIN).payload(&f1).at(7, 250));
    pkts.push(Pkt::new(19876, 40003).seq(21).flags(TcpFlags::FIN | ACK).at(7, 900));
    pkts.extend(handshake(40004, 19876, 0, 0));
    pkts.push(Pkt::new(19876, 40004).seq(1).flags(TcpFlags::RST).at(9, 1));
    let cap = capture(&pkts);
    let c = &cap.connections[0];
    assert_eq!(c.to_server.fin, Some((f1.len() as u64, ts(7, 250))));
    assert_eq!(c.to_client.fin, Some((0, ts(7, 900))));
    assert_eq!(c.closed_at(), Some(ts(7, 250)));
    let c2 = &cap.connections[1];
    assert_eq!(c2.to_client.rst, Some(ts(9, 1)));
    assert_eq!(c2.closed_at(), Some(ts(9, 1)));
}

#[test]
fn capture_starting_mid_stream() {
    let f0 = frame(r#"{"code":0}"#);
    let f1 = frame(r#"{"code":1}"#);
    let f2 = frame(r#"{"code":2}"#);
    let s1 = 900u32;
    let s2 = s1 + f1.len() as u32;
    // No handshake. A pure ACK with a later sequence number is seen first; f1 (earlier) then
    // moves the stream start back, since nothing was assembled yet; f2 follows; then a
    // retransmission of f0, sent before the capture started, is dropped.
    let pkts = vec![
        Pkt::new(49328, 19876).seq(s2).flags(ACK).at(1, 0),
        Pkt::new(49328, 19876).seq(s1).flags(PSH_ACK).payload(&f1).at(1, 5),
        Pkt::new(49328, 19876).seq(s2).flags(PSH_ACK).payload(&f2).at(1, 10),
        Pkt::new(49328, 19876).seq(s1 - f0.len() as u32).flags(PSH_ACK).payload(&f0).at(1, 15),
        Pkt::new(19876, 49328).seq(3).flags(ACK).at(1, 20),
    ];
    let cap = capture(&pkts);
    let c = &cap.connections[0];
    assert!(!c.opened_in_capture);
    assert_eq!(c.client.port(), 49328, "higher port is taken as the client");
    assert_eq!(c.to_server.data, [f1.clone(), f2.clone()].concat());
    assert_eq!(c.to_server.stats.bytes_before_start, f0.len() as u64);
    let frames = cap.remoting_frames(1 << 20).unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].bytes.as_ref(), &f1[..]);
    assert_eq!(frames[1].ts, ts(1, 10));
}

#[test]
fn sequence_numbers_wrap_around() {
    let f1 = frame(r#"{"wrap":"around the 32-bit sequence space"}"#);
    let isn = u32::MAX - 5;
    let mut pkts = handshake(40005, 19876, isn, 0);
    pkts.push(Pkt::new(40005, 19876).seq(isn.wrapping_add(1)).flags(PSH_ACK).payload(&f1[..8]).at(2, 0));
    pkts.push(Pkt::new(40005, 19876).seq(isn.wrapping_add(9)).flags(PSH_ACK).payload(&f1[8..]).at(2, 1));
    let cap = capture(&pkts);
    assert_eq!(cap.connections[0].to_server.data, f1);
}

#[test]
fn reused_port_after_close_is_a_new_connection_and_syn_retransmit_is_not() {
    let mut pkts = handshake(40006, 19876, 100, 200);
    pkts.insert(1, Pkt::new(40006, 19876).seq(100).flags(SYN).at(1, 500)); // retransmitted SYN
    pkts.push(Pkt::new(40006, 19876).seq(101).flags(TcpFlags::FIN | ACK).at(2, 0));
    pkts.extend(handshake(40006, 19876, 9000, 300));
    pkts.push(Pkt::new(40006, 19876).seq(9001).flags(PSH_ACK).payload(&frame("{}")).at(3, 0));
    let cap = capture(&pkts);
    assert_eq!(cap.connections.len(), 2);
    assert_eq!(cap.connections[0].to_server.data.len(), 0);
    assert_eq!(cap.connections[1].to_server.data, frame("{}"));
}

#[test]
fn bad_frame_length_is_an_error_and_partial_frame_is_trailing() {
    let mut pkts = handshake(40007, 19876, 0, 0);
    let f = frame(r#"{"ok":true}"#);
    pkts.push(Pkt::new(40007, 19876).seq(1).flags(PSH_ACK).payload(&f).at(2, 0).padding(6));
    pkts.push(Pkt::new(40007, 19876).seq(1 + f.len() as u32).flags(PSH_ACK).payload(&f[..7]).at(2, 1));
    pkts.push(Pkt::new(19876, 40007).seq(1).flags(PSH_ACK).payload(&[0xff, 0xff, 0xff, 0xf0, 0]).at(2, 2));
    let cap = capture(&pkts);
    let c = &cap.connections[0];
    let sf = c.split_frames(true, 1 << 20).unwrap();
    assert_eq!(sf.frames.len(), 1, "Ethernet padding is not payload");
    assert_eq!(sf.trailing_bytes, 7);
    let e = cap.remoting_streams(1 << 20).unwrap_err();
    assert!(e.to_string().contains("stream offset 0"), "{e}");
    assert!(e.to_string().contains("frame length -16"), "{e}");
    // The file offset points at the record that carried the bad length word (the 6th).
    assert!(e.offset > 24, "{e}");
}
