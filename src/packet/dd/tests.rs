use super::*;
use smallvec::smallvec;

/// A small deterministic generator (xorshift64*), for the random tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn hand_encoded_structure() {
    // S E id=0, frame 0; structure only; offset 0, one decode target, one
    // template, DTI switch, no fdiffs, no chains, no resolutions.
    let bytes = [0xC0, 0x00, 0x00, 0x80, 0x00, 0xE0];
    let dd = DependencyDescriptor::parse(&bytes, None).unwrap();
    let s = dd.attached_structure.as_ref().unwrap();
    assert_eq!(s.decode_target_count, 1);
    assert_eq!(s.chain_count, 0);
    assert_eq!(s.templates.len(), 1);
    assert_eq!(s.templates[0].dtis, vec![Dti::Switch]);
    assert!(dd.start_of_frame && dd.end_of_frame);
    assert_eq!(dd.active_decode_targets_bitmask, Some(1));
    assert_eq!(dd.dtis[..], [Dti::Switch]);
    assert_eq!(dd.to_vec(None).unwrap(), bytes);
}

#[test]
fn mandatory_fields_use_the_template() {
    let l1t3 = example_structure_l1t3();
    // Template ID 3 with offset 1 is index 2: T1, "SD-", fdiff 2, chain 2.
    let bytes = [0x83, 0x12, 0x34];
    let dd = DependencyDescriptor::parse(&bytes, Some(&l1t3)).unwrap();
    assert!(dd.start_of_frame && !dd.end_of_frame);
    assert_eq!(dd.frame_number, 0x1234);
    assert_eq!((dd.spatial_id, dd.temporal_id), (0, 1));
    assert_eq!(
        dd.dtis[..],
        [Dti::Switch, Dti::Discardable, Dti::NotPresent]
    );
    assert_eq!(dd.fdiffs[..], [2]);
    assert_eq!(dd.chain_fdiffs[..], [2]);
    assert_eq!(dd.active_decode_targets_bitmask, None);
    assert_eq!(dd.to_vec(Some(&l1t3)).unwrap(), bytes);

    assert_eq!(
        DependencyDescriptor::parse(&bytes, None),
        Err(PacketError::MissingStructure)
    );
    // ID 0 is index 63: no such template.
    assert!(DependencyDescriptor::parse(&[0x80, 0, 0], Some(&l1t3)).is_err());
    assert_eq!(
        DependencyDescriptor::parse(&bytes[..2], Some(&l1t3)),
        Err(PacketError::Truncated)
    );
}

#[test]
fn spec_structures_round_trip() {
    for s in [example_structure_l1t3(), example_structure_l3t3()] {
        s.validate().unwrap();
        let first_id = s.template_id_offset;
        let dd = DependencyDescriptor {
            start_of_frame: true,
            frame_dependency_template_id: first_id,
            frame_number: 100,
            active_decode_targets_bitmask: Some(all_targets(s.decode_target_count)),
            dtis: s.templates[0].dtis.iter().copied().collect(),
            chain_fdiffs: s.templates[0].chain_fdiffs.iter().copied().collect(),
            resolution: s.resolutions.as_ref().map(|r| r[0]),
            attached_structure: Some(s.clone()),
            ..Default::default()
        };
        let bytes = dd.to_vec(None).unwrap();
        let parsed = DependencyDescriptor::parse(&bytes, None).unwrap();
        assert_eq!(parsed, dd);
        assert_eq!(parsed.attached_structure.as_ref(), Some(&s));

        // Every template, referenced from a later packet.
        for (index, t) in s.templates.iter().enumerate() {
            let id = ((usize::from(s.template_id_offset) + index) % 64) as u8;
            let bytes = [0x40 | id, 0, 7];
            let dd = DependencyDescriptor::parse(&bytes, Some(&s)).unwrap();
            assert_eq!(
                (dd.spatial_id, dd.temporal_id),
                (t.spatial_id, t.temporal_id)
            );
            assert_eq!(dd.dtis[..], t.dtis[..]);
            assert_eq!(dd.to_vec(Some(&s)).unwrap(), bytes);
        }
    }
}

#[test]
fn l3t3_decode_targets_and_resolution() {
    let s = example_structure_l3t3();
    let layers: Vec<_> = s.decode_target_layers().collect();
    assert_eq!(
        layers,
        vec![
            (2, 2),
            (2, 1),
            (2, 0),
            (1, 2),
            (1, 1),
            (1, 0),
            (0, 2),
            (0, 1),
            (0, 0)
        ]
    );
    // Template index 12 (S2T1) has ID (60 + 12) % 64 = 8.
    let dd = DependencyDescriptor::parse(&[0x08, 0, 1], Some(&s)).unwrap();
    assert_eq!((dd.spatial_id, dd.temporal_id), (2, 1));
    assert_eq!(
        dd.resolution,
        Some(RenderResolution {
            width: 1280,
            height: 720
        })
    );
}

#[test]
fn custom_fields_round_trip() {
    let s = example_structure_l3t3();
    let dd = DependencyDescriptor {
        start_of_frame: false,
        end_of_frame: true,
        frame_dependency_template_id: 62, // index 2: S0T1
        frame_number: 0xFFFF,
        active_decode_targets_bitmask: Some(0b1_0110_0001),
        custom_dtis: true,
        custom_fdiffs: true,
        custom_chains: true,
        spatial_id: 0,
        temporal_id: 1,
        dtis: smallvec![Dti::Required; 9],
        fdiffs: smallvec![1, 16, 17, 256, 257, 4096],
        chain_fdiffs: smallvec![0, 200, 255],
        resolution: Some(RenderResolution {
            width: 320,
            height: 180,
        }),
        attached_structure: None,
    };
    let bytes = dd.to_vec(Some(&s)).unwrap();
    assert_eq!(DependencyDescriptor::parse(&bytes, Some(&s)).unwrap(), dd);

    // Values that differ from the template are written even without the
    // custom flag, which then reads back as set.
    let mut changed = DependencyDescriptor::parse(&[0x3E, 0, 1], Some(&s)).unwrap();
    changed.fdiffs = smallvec![3];
    let parsed = DependencyDescriptor::parse(&changed.to_vec(Some(&s)).unwrap(), Some(&s)).unwrap();
    assert!(parsed.custom_fdiffs && !parsed.custom_dtis);
    assert_eq!(parsed.fdiffs[..], [3]);
}

#[test]
fn writer_rejects_inconsistent_values() {
    let s = example_structure_l1t3();
    let good = DependencyDescriptor::parse(&[0x81, 0, 0], Some(&s)).unwrap();
    let mut out = vec![0xAA];
    let mut bad = good.clone();
    bad.temporal_id = 2;
    assert!(bad.write(Some(&s), &mut out).is_err());
    let mut bad = good.clone();
    bad.active_decode_targets_bitmask = Some(0b1000);
    assert!(bad.write(Some(&s), &mut out).is_err());
    let mut bad = good.clone();
    bad.fdiffs = smallvec![0];
    assert!(bad.write(Some(&s), &mut out).is_err());
    let mut bad = good.clone();
    bad.dtis.pop();
    assert!(bad.write(Some(&s), &mut out).is_err());
    assert!(good.write(None, &mut out).is_err());
    let mut broken = s.clone();
    broken.templates.swap(0, 2);
    assert!(good.write(Some(&broken), &mut out).is_err());
    assert_eq!(out, [0xAA]);
    good.write(Some(&s), &mut out).unwrap();
    assert_eq!(out, [0xAA, 0x81, 0, 0]);
}

#[test]
fn structure_limits() {
    // 65 templates of the same layer.
    let mut bytes = Vec::new();
    let mut w = BitWriter::new(&mut bytes);
    w.bits(24, 0);
    w.bits(5, 0b10000);
    w.bits(11, 0);
    for _ in 0..64 {
        w.bits(2, 0);
    }
    w.bits(2, 3);
    w.bits(32, 0);
    w.bits(32, 0);
    assert_eq!(
        DependencyDescriptor::parse(&bytes, None),
        Err(PacketError::LimitExceeded("DD template count"))
    );
    // A fifth spatial layer.
    let mut bytes = Vec::new();
    let mut w = BitWriter::new(&mut bytes);
    w.bits(24, 0);
    w.bits(5, 0b10000);
    w.bits(11, 0);
    for _ in 0..4 {
        w.bits(2, 2);
    }
    w.bits(32, 0);
    w.bits(32, 0);
    assert_eq!(
        DependencyDescriptor::parse(&bytes, None),
        Err(PacketError::LimitExceeded("DD layer ID"))
    );
}

#[test]
fn random_bytes_never_panic_and_round_trip() {
    let structures = [
        None,
        Some(example_structure_l1t3()),
        Some(example_structure_l3t3()),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0;
    for i in 0..20_000 {
        let len = rng.below(40) as usize;
        let mut buf: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if i % 2 == 0 && len > 3 {
            buf[3] |= 0x80; // attach a structure more often
        }
        let s = structures[i % 3].as_ref();
        if let (Some(s), Some(first)) = (s, buf.first_mut()) {
            // Mostly pick a template ID the structure has.
            let index = rng.below(s.templates.len() as u64 + 1);
            let id = (u64::from(s.template_id_offset) + index) % 64;
            *first = (*first & 0xC0) | id as u8;
        }
        if let Ok(dd) = DependencyDescriptor::parse(&buf, s) {
            parsed += 1;
            let bytes = dd.to_vec(s).unwrap();
            assert_eq!(DependencyDescriptor::parse(&bytes, s).unwrap(), dd);
        }
    }
    assert!(parsed > 2000, "only {parsed} random descriptors parsed");
}

fn random_structure(rng: &mut Rng) -> FrameDependencyStructure {
    let dt_count = 1 + rng.below(32) as u8;
    let chain_count = rng.below(u64::from(dt_count) + 1) as u8;
    let mut templates = Vec::new();
    let (mut sid, mut tid) = (0u8, 0u8);
    for _ in 0..1 + rng.below(64) {
        templates.push(FrameDependencyTemplate {
            spatial_id: sid,
            temporal_id: tid,
            dtis: (0..dt_count)
                .map(|_| Dti::from_bits(rng.next() as u8))
                .collect(),
            fdiffs: (0..rng.below(4)).map(|_| 1 + rng.below(16) as u8).collect(),
            chain_fdiffs: (0..chain_count).map(|_| rng.below(16) as u8).collect(),
        });
        match rng.below(4) {
            1 if tid < 7 => tid += 1,
            2 if sid < 3 => (sid, tid) = (sid + 1, 0),
            _ => {}
        }
    }
    let spatial_layers = templates.iter().map(|t| t.spatial_id).max().unwrap_or(0) + 1;
    let resolutions = (rng.below(2) == 0).then(|| {
        (0..spatial_layers)
            .map(|_| RenderResolution {
                width: 1 + rng.below(65536) as u32,
                height: 1 + rng.below(65536) as u32,
            })
            .collect()
    });
    FrameDependencyStructure {
        template_id_offset: rng.below(64) as u8,
        decode_target_count: dt_count,
        chain_count,
        decode_target_protected_by_chain: if chain_count == 0 {
            Vec::new()
        } else {
            (0..dt_count)
                .map(|_| rng.below(u64::from(chain_count)) as u8)
                .collect()
        },
        templates,
        resolutions,
    }
}

#[test]
fn random_structures_round_trip() {
    let mut rng = Rng(42);
    for _ in 0..500 {
        let s = random_structure(&mut rng);
        s.validate().unwrap();
        let index = rng.below(s.templates.len() as u64) as usize;
        let t = &s.templates[index];
        let dd = DependencyDescriptor {
            frame_dependency_template_id: ((usize::from(s.template_id_offset) + index) % 64) as u8,
            frame_number: rng.next() as u16,
            active_decode_targets_bitmask: Some(
                rng.next() as u32 & all_targets(s.decode_target_count),
            ),
            spatial_id: t.spatial_id,
            temporal_id: t.temporal_id,
            dtis: t.dtis.iter().copied().collect(),
            fdiffs: (0..rng.below(5))
                .map(|_| 1 + rng.below(4096) as u16)
                .collect(),
            custom_fdiffs: true,
            chain_fdiffs: t.chain_fdiffs.iter().copied().collect(),
            resolution: s.resolutions.as_ref().map(|r| r[usize::from(t.spatial_id)]),
            attached_structure: Some(s.clone()),
            ..Default::default()
        };
        let bytes = dd.to_vec(None).unwrap();
        assert_eq!(DependencyDescriptor::parse(&bytes, None).unwrap(), dd);
    }
}

#[test]
fn switch_points_follow_the_dtis() {
    let s = example_structure_l3t3();
    let at = |idx: usize| {
        let tpl = &s.templates[idx];
        let dd = DependencyDescriptor {
            spatial_id: tpl.spatial_id,
            temporal_id: tpl.temporal_id,
            dtis: tpl.dtis.iter().copied().collect(),
            ..Default::default()
        };
        dd.switch_points(&s, 0)
    };
    // Keyframe and T0: every temporal target of S0 (and "the highest").
    assert_eq!(at(0), 0xff);
    assert_eq!(at(1), 0xff);
    // T1 ("RR-RR-SD-"): a switch point for S0T2 only.
    assert_eq!(at(2), 0b1111_1100);
    // T2 frames are no switch points.
    assert_eq!(at(3), 0);
    assert_eq!(at(4), 0);
    let l1 = example_structure_l1t3();
    let dd = DependencyDescriptor {
        dtis: l1.templates[2].dtis.iter().copied().collect(),
        ..Default::default()
    };
    assert_eq!(dd.switch_points(&l1, 0), 0b1111_1100);
}

// The AV1 RTP specification's example structures. `manifold-testkit`
// (`testkit/src/av1.rs`) holds the same two for its synthetic AV1 streams
// and the fuzz checks; this copy keeps the unit tests free of the test kit.

/// The L1T3 structure of the AV1 RTP specification, §A.6.2.1: one chain,
/// decode targets 30, 15 and 7.5 fps.
fn example_structure_l1t3() -> FrameDependencyStructure {
    let t = |temporal_id, fdiffs: &[u8], chain, dtis: &str| FrameDependencyTemplate {
        spatial_id: 0,
        temporal_id,
        dtis: parse_dtis(dtis),
        fdiffs: fdiffs.to_vec(),
        chain_fdiffs: vec![chain],
    };
    FrameDependencyStructure {
        template_id_offset: 1,
        decode_target_count: 3,
        chain_count: 1,
        decode_target_protected_by_chain: vec![0, 0, 0],
        templates: vec![
            t(0, &[], 0, "SSS"),
            t(0, &[4], 4, "SSS"),
            t(1, &[2], 2, "SD-"),
            t(2, &[1], 1, "D--"),
            t(2, &[1], 3, "D--"),
        ],
        resolutions: None,
    }
}

/// The L3T3 full SVC structure of the AV1 RTP specification, §A.6.2.3:
/// three chains and nine decode targets (HD/VGA/QVGA at 30/15/7.5 fps).
/// The render resolutions and the template ID offset (which makes IDs wrap)
/// are additions of this crate, to exercise those fields.
fn example_structure_l3t3() -> FrameDependencyStructure {
    let t = |spatial_id, temporal_id, fdiffs: &[u8], chains: [u8; 3], dtis: &str| {
        FrameDependencyTemplate {
            spatial_id,
            temporal_id,
            dtis: parse_dtis(dtis),
            fdiffs: fdiffs.to_vec(),
            chain_fdiffs: chains.to_vec(),
        }
    };
    let res = |width, height| RenderResolution { width, height };
    FrameDependencyStructure {
        template_id_offset: 60,
        decode_target_count: 9,
        chain_count: 3,
        decode_target_protected_by_chain: vec![2, 2, 2, 1, 1, 1, 0, 0, 0],
        templates: vec![
            t(0, 0, &[], [0, 0, 0], "SSSSSSSSS"),
            t(0, 0, &[12], [12, 11, 10], "RRRRRRSSS"),
            t(0, 1, &[6], [6, 5, 4], "RR-RR-SD-"),
            t(0, 2, &[3], [3, 2, 1], "R--R--D--"),
            t(0, 2, &[3], [9, 8, 7], "R--R--D--"),
            t(1, 0, &[1], [1, 1, 1], "SSSSSS---"),
            t(1, 0, &[12, 1], [1, 1, 1], "RRRSSS---"),
            t(1, 1, &[6, 1], [7, 6, 5], "RR-SD----"),
            t(1, 2, &[3, 1], [4, 3, 2], "R--D-----"),
            t(1, 2, &[3, 1], [10, 9, 8], "R--D-----"),
            t(2, 0, &[1], [2, 1, 1], "SSS------"),
            t(2, 0, &[12, 1], [2, 1, 1], "SSS------"),
            t(2, 1, &[6, 1], [8, 7, 6], "SD-------"),
            t(2, 2, &[3, 1], [5, 4, 3], "D--------"),
            t(2, 2, &[3, 1], [11, 10, 9], "D--------"),
        ],
        resolutions: Some(vec![res(320, 180), res(640, 360), res(1280, 720)]),
    }
}

/// Parses the `-DSR` notation of the specification's tables.
fn parse_dtis(s: &str) -> Vec<Dti> {
    s.bytes()
        .map(|c| match c {
            b'D' => Dti::Discardable,
            b'S' => Dti::Switch,
            b'R' => Dti::Required,
            _ => Dti::NotPresent,
        })
        .collect()
}
