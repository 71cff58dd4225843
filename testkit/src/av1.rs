//! The example dependency structures of the AV1 RTP specification
//! (appendix A.6.2), as the synthetic AV1 streams ([`crate::media`]) use
//! them. A test that parses the descriptors a subscriber receives needs the
//! same structure.

use manifold_sfu::packet::{
    Dti, FrameDependencyStructure, FrameDependencyTemplate, RenderResolution,
};

/// The L1T3 structure of the AV1 RTP specification, §A.6.2.1: one chain,
/// decode targets 30, 15 and 7.5 fps.
pub fn example_structure_l1t3() -> FrameDependencyStructure {
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
pub fn example_structure_l3t3() -> FrameDependencyStructure {
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
