//! Invariant checks of the packet parsers (`manifold_sfu::packet`), shared
//! by the `fuzz/` targets and `tests/fuzz_corpus.rs`.
//!
//! Each `check_*` function feeds arbitrary bytes to one parser and panics if
//! an invariant breaks (a panic inside the parser itself is a bug too).

use manifold_sfu::packet::{av1, classify, h264, vp8, vp9, DatagramKind, DependencyDescriptor};

use crate::av1::{example_structure_l1t3, example_structure_l3t3};

/// Whether `inner` lies within `outer` in memory.
fn is_subslice(outer: &[u8], inner: &[u8]) -> bool {
    let o = outer.as_ptr_range();
    let i = inner.as_ptr_range();
    o.start <= i.start && i.end <= o.end
}

/// `classify` and `stun_local_ufrag`.
pub fn check_classify(data: &[u8]) {
    let kind = classify::classify(data);
    let min = match kind {
        DatagramKind::Stun => 20,
        DatagramKind::Dtls => 13,
        DatagramKind::Rtp => 12,
        DatagramKind::Rtcp => 8,
        DatagramKind::Pipe => 26,
        // Unknown, and kinds a newer library tells apart.
        _ => 0,
    };
    assert!(data.len() >= min, "{kind:?} shorter than {min}");
    if let Some(ufrag) = classify::stun_local_ufrag(data) {
        assert_eq!(kind, DatagramKind::Stun);
        assert!(is_subslice(data, ufrag), "ufrag outside the buffer");
        assert!(!ufrag.contains(&b':'), "ufrag contains ':'");
    }
}

/// `Vp8Descriptor::parse` and `is_keyframe`.
pub fn check_vp8(data: &[u8]) {
    let Ok(d) = vp8::Vp8Descriptor::parse(data) else {
        assert!(!vp8::is_keyframe(data));
        return;
    };
    assert!(d.header_len <= data.len() && d.header_len <= 6);
    let key = d.start_of_partition
        && d.partition_id == 0
        && data.get(d.header_len).is_some_and(|b| b & 1 == 0);
    assert_eq!(vp8::is_keyframe(data), key);
}

/// `Vp9Descriptor::parse` (with the scalability structure) and `is_keyframe`.
pub fn check_vp9(data: &[u8]) {
    let Ok(d) = vp9::Vp9Descriptor::parse(data) else {
        assert!(!vp9::is_keyframe(data));
        return;
    };
    assert!(d.header_len <= data.len());
    assert!(d.p_diffs().len() <= 3);
    assert_eq!(d.ss.is_some(), d.ss_present);
    if let Some(ss) = d.ss {
        assert!(is_subslice(data, ss.as_bytes()));
        let res = ss.resolutions().count();
        assert!(res == 0 || res == usize::from(ss.spatial_layers()));
        let groups = ss.picture_group().count();
        if !ss.has_picture_group() {
            assert_eq!(groups, 0);
        }
        assert!(ss.picture_group().all(|g| g.p_diffs().len() <= 3));
    }
    let key = !d.inter_picture_predicted && d.start_of_frame && d.sid.unwrap_or(0) == 0;
    assert_eq!(vp9::is_keyframe(data), key);
}

/// `H264Payload::parse` and `is_keyframe`.
pub fn check_h264(data: &[u8]) {
    let key = h264::is_keyframe(data);
    let expected = match h264::H264Payload::parse(data) {
        Err(_) => false,
        Ok(h264::H264Payload::Single { nal_type, nal }) => {
            assert_eq!(nal, data);
            nal_type == 5 || nal_type == 7
        }
        Ok(h264::H264Payload::StapA(units)) => {
            let mut total = 1;
            for nal in units.iter() {
                assert!(!nal.is_empty() && is_subslice(data, nal));
                total += 2 + nal.len();
            }
            assert_eq!(total, data.len(), "STAP-A units do not cover the payload");
            units.nal_types().any(|t| t == 5 || t == 7)
        }
        Ok(h264::H264Payload::FuA {
            start,
            end,
            nal_type,
            fragment,
        }) => {
            assert!(!(start && end));
            assert!(is_subslice(data, fragment));
            start && (nal_type == 5 || nal_type == 7)
        }
        Ok(_) => false,
    };
    assert_eq!(key, expected);
}

/// The AV1 aggregation header and the dependency descriptor: the first
/// byte picks the structure to parse against (none, L1T3, L3T3); the rest
/// is the descriptor. Parse, write, parse again must give an equal value.
pub fn check_av1_dd(data: &[u8]) {
    if let Ok(h) = av1::Av1AggregationHeader::parse(data) {
        assert_eq!(av1::is_keyframe(data), h.n);
        assert_eq!(h.to_byte(), data[0] & 0xF8);
    } else {
        assert!(!av1::is_keyframe(data));
    }
    let Some((&selector, buf)) = data.split_first() else {
        return;
    };
    let structure = match selector % 3 {
        0 => None,
        1 => Some(example_structure_l1t3()),
        _ => Some(example_structure_l3t3()),
    };
    let Ok(dd) = DependencyDescriptor::parse(buf, structure.as_ref()) else {
        return;
    };
    if let Some(s) = &dd.attached_structure {
        s.validate().expect("parsed structure is valid");
    }
    let bytes = dd
        .to_vec(structure.as_ref())
        .expect("parsed descriptor writes");
    let again = DependencyDescriptor::parse(&bytes, structure.as_ref()).expect("written parses");
    assert_eq!(again, dd, "parse -> write -> parse changed the descriptor");
}

/// `PipeMessage::decode` (the encoding of pipes across hosts): never a
/// panic, and whatever decodes encodes back to the same bytes and decodes
/// to the same message.
pub fn check_pipe_message(data: &[u8]) {
    let limits = manifold_sfu::Limits::default();
    let Ok(m) = manifold_sfu::PipeMessage::decode(data, &limits) else {
        return;
    };
    let mut out = Vec::new();
    m.encode(&mut out);
    assert_eq!(out, data, "{m:?} encodes differently");
    let again = manifold_sfu::PipeMessage::decode(&out, &limits).expect("re-decodes");
    assert_eq!(format!("{again:?}"), format!("{m:?}"));
}
