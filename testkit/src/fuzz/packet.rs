//! Invariant checks of the packet parsers (`manifold_sfu::packet`), shared
//! by the `fuzz/` targets and `tests/fuzz_corpus.rs`.
//!
//! Each `check_*` function feeds arbitrary bytes to one parser and panics if
//! an invariant breaks (a panic inside the parser itself is a bug too).

use manifold_sfu::packet::{
    av1, classify, h264, layer_info, rtp, vp8, vp9, CodecKind, DatagramKind, DependencyDescriptor,
};

use crate::av1::{example_structure_l1t3, example_structure_l3t3};

/// Whether `inner` lies within `outer` in memory.
fn is_subslice(outer: &[u8], inner: &[u8]) -> bool {
    let o = outer.as_ptr_range();
    let i = inner.as_ptr_range();
    o.start <= i.start && i.end <= o.end
}

/// `classify`, `stun_message_type` and `stun_local_ufrag`.
pub fn check_classify(data: &[u8]) {
    let kind = classify::classify(data);
    let min = match kind {
        DatagramKind::Stun => 20,
        DatagramKind::Dtls => 13,
        DatagramKind::Rtp => 12,
        DatagramKind::Rtcp => 8,
        DatagramKind::Unknown => 0,
    };
    assert!(data.len() >= min, "{kind:?} shorter than {min}");
    let msg_type = classify::stun_message_type(data);
    if msg_type.is_some() {
        assert_eq!(kind, DatagramKind::Stun);
    }
    if let Some(ufrag) = classify::stun_local_ufrag(data) {
        assert!(msg_type.is_some());
        assert!(is_subslice(data, ufrag), "ufrag outside the buffer");
        assert!(!ufrag.contains(&b':'), "ufrag contains ':'");
    }
}

/// `RtpHeaderView` accessors and `rewrite_rtp_header` round trip.
pub fn check_rtp_header(data: &[u8]) {
    let mut buf = data.to_vec();
    let Ok(view) = rtp::RtpHeaderView::new_checked(data) else {
        assert!(rtp::rewrite_rtp_header(&mut buf, 1, 2, 3, 4).is_err());
        assert_eq!(buf, data, "failed rewrite changed the buffer");
        return;
    };
    assert!(view.header_len() >= rtp::RTP_FIXED_HEADER_LEN);
    assert!(view.header_len() + view.payload().len() + view.padding_len() == data.len());
    assert!(is_subslice(data, view.payload()));
    assert_eq!(view.csrc().len(), usize::from(data[0] & 0x0F));
    if let Some((_, ext)) = view.extension() {
        assert!(is_subslice(data, ext));
        let mut count = 0;
        for (id, value) in view.extensions() {
            assert!(id != 0 && is_subslice(ext, value));
            count += 1;
            assert!(count <= ext.len(), "more elements than bytes");
        }
    }

    let pt = (data.len() as u8 ^ view.payload_type()) & 0x7F;
    let seq = view.sequence_number().wrapping_add(0x8001);
    let ts = view.timestamp().rotate_left(7) ^ 0x5A5A_5A5A;
    let ssrc = !view.ssrc();
    rtp::rewrite_rtp_header(&mut buf, pt, seq, ts, ssrc).expect("rewrite of a valid packet");
    let after = rtp::RtpHeaderView::new_checked(&buf).expect("rewritten packet is valid");
    assert_eq!(after.payload_type(), pt);
    assert_eq!(after.sequence_number(), seq);
    assert_eq!(after.timestamp(), ts);
    assert_eq!(after.ssrc(), ssrc);
    assert_eq!(after.marker(), view.marker());
    assert_eq!(after.header_len(), view.header_len());
    assert_eq!(after.payload(), view.payload());
    assert_eq!(buf[12..], data[12..]);
    assert!(rtp::rewrite_rtp_header(&mut buf, 0x80, 0, 0, 0).is_err());
}

/// `Vp8Descriptor::parse`, `is_keyframe`, `rewrite_vp8` and layer info.
pub fn check_vp8(data: &[u8]) {
    let mut buf = data.to_vec();
    let parsed = vp8::Vp8Descriptor::parse(data);
    let layer = layer_info(CodecKind::Vp8, data);
    let Ok(d) = parsed else {
        assert!(!vp8::is_keyframe(data));
        assert!(layer.is_none());
        assert!(vp8::rewrite_vp8(&mut buf, None, None).is_err());
        return;
    };
    assert!(d.header_len <= data.len() && d.header_len <= 6);
    assert_eq!(layer.map(|l| l.temporal), Some(d.tid.unwrap_or(0)));
    let key = d.start_of_partition
        && d.partition_id == 0
        && data.get(d.header_len).is_some_and(|b| b & 1 == 0);
    assert_eq!(vp8::is_keyframe(data), key);

    let pid = d
        .picture_id
        .map(|p| p.wrapping_mul(31).wrapping_add(data.len() as u16));
    let tl0 = d.tl0picidx.map(|t| t.wrapping_add(1));
    vp8::rewrite_vp8(&mut buf, pid, tl0).expect("rewrite of present fields");
    let after = vp8::Vp8Descriptor::parse(&buf).expect("rewritten descriptor parses");
    let mask = if d.picture_id_15bit { 0x7FFF } else { 0x7F };
    let expected = vp8::Vp8Descriptor {
        picture_id: pid.map(|p| p & mask),
        tl0picidx: tl0,
        ..d
    };
    assert_eq!(after, expected);
    assert_eq!(buf[d.header_len..], data[d.header_len..]);
    if d.picture_id.is_none() {
        assert!(vp8::rewrite_vp8(&mut buf, Some(1), None).is_err());
    }
    if d.tl0picidx.is_none() {
        assert!(vp8::rewrite_vp8(&mut buf, None, Some(1)).is_err());
    }
}

/// `Vp9Descriptor::parse` (with the scalability structure), `is_keyframe`
/// and the rewrites.
pub fn check_vp9(data: &[u8]) {
    let mut buf = data.to_vec();
    let Ok(d) = vp9::Vp9Descriptor::parse(data) else {
        assert!(!vp9::is_keyframe(data));
        assert!(layer_info(CodecKind::Vp9, data).is_none());
        assert!(vp9::rewrite_vp9_picture_id(&mut buf, 1).is_err());
        assert_eq!(buf, data);
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

    let pid = d.picture_id.map(|p| p ^ 0x5555);
    if let Some(p) = pid {
        vp9::rewrite_vp9_picture_id(&mut buf, p).expect("picture ID present");
    } else {
        assert!(vp9::rewrite_vp9_picture_id(&mut buf, 1).is_err());
    }
    let tl0 = d.tl0picidx.map(|t| !t);
    if let Some(t) = tl0 {
        vp9::rewrite_vp9_tl0picidx(&mut buf, t).expect("TL0PICIDX present");
    } else {
        assert!(vp9::rewrite_vp9_tl0picidx(&mut buf, 1).is_err());
    }
    let after = vp9::Vp9Descriptor::parse(&buf).expect("rewritten descriptor parses");
    let mask = if d.picture_id_15bit { 0x7FFF } else { 0x7F };
    let mut expected = d;
    expected.picture_id = pid.map(|p| p & mask);
    expected.tl0picidx = tl0;
    assert_eq!(after, expected);
    assert_eq!(buf[d.header_len..], data[d.header_len..]);
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
