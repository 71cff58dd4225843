//! Byte-for-byte checks against libsrtp (vectors printed by
//! `tests/interop/srtp_vectors.py` through pylibsrtp: master key
//! 01 02 03 ..., master salt a0 a1 a2 ...; RTP sequence numbers 65534,
//! 65535, 0, 1 of one SSRC, so the last two have rollover counter 1; two
//! sender reports with SRTCP indexes 1 and 2).

use super::*;

const AES128_CM_SHA1_80_RTP: [(&str, &str); 4] = [
    (
        "80e0fffedeadbeef11223344fe050c131a21282f363d444b525960676e757c838a91989fa6adb4bbc2c9d0d7dee5ecf3fa01080f16",
        "80e0fffedeadbeef1122334473d18c6e39f50404d9c2f16e0bc15cfc7f77b47453671f3a4265e2258a304b5491c76d6187a3cf6d44a2247e772c346e3cb6aa",
    ),
    (
        "90e0ffffdeadbeef11223344bede000111abcd00ff060d141b222930373e454c535a61686f767d848b9299a0a7aeb5bcc3cad1d8dfe6edf4fb02091017",
        "90e0ffffdeadbeef11223344bede000111abcd00cba304d2fadd5935a51671e1cb45a492fc193c5e1a0a5d1d4dbe1b753cb91b5d9d6e590035eb8bfa125f06e29ee75815c01332",
    ),
    (
        "90e00000deadbeef11223344bede000111abcd0000070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5fc030a1118",
        "90e00000deadbeef11223344bede000111abcd00868e867ae8e60cd0aba998f92a562db24524076fab0780311b1f2f507091edd6bf8f2cf38cc69eacfdc765e3521c1905bcddcb",
    ),
    (
        "80e00001deadbeef1122334401080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3dae1e8eff6fd040b1219",
        "80e00001deadbeef1122334430d8ea6992926d5bfec9c57829609603e0da9c387ac526cc6a9536daece26f85ea1d1d969dfc490abc021c19448e5fd42e2567",
    ),
];
const AES128_CM_SHA1_80_RTCP: [(&str, &str); 2] = [
    (
        "80c8000611223344e8f0a1b2c3d4e5f6deadbeef0000001000004000",
        "80c80006112233444d9e95ac76103277f9cdd013dcef5183045faefe800000017267bf7d70047a7adb06",
    ),
    (
        "80c8000611223344e8f0a1b2c3d4e5f6deadbeef0000001000004000",
        "80c80006112233449b057225039d532c85f11a78e51611ad4d3bd0a5800000025d492c5776ba13ad7e0d",
    ),
];

const AEAD_AES_128_GCM_RTP: [(&str, &str); 4] = [
    (
        "80e0fffedeadbeef11223344fe050c131a21282f363d444b525960676e757c838a91989fa6adb4bbc2c9d0d7dee5ecf3fa01080f16",
        "80e0fffedeadbeef11223344a8569cc4a286136055ea8a7dd7cba41ac1416924246d4239cf1942f22f3d9db03bc74c09490f1e7bafb5d928e8edce5f70b9785257e68e300c",
    ),
    (
        "90e0ffffdeadbeef11223344bede000111abcd00ff060d141b222930373e454c535a61686f767d848b9299a0a7aeb5bcc3cad1d8dfe6edf4fb02091017",
        "90e0ffffdeadbeef11223344bede000111abcd0062ad64dac67b97ba18e279f80c7824a3c5460c47fe064834dcd14c225ad5836c0d4c751f06a115bdcf410be5a8a2d4fc02d8b964cfe2a7d428",
    ),
    (
        "90e00000deadbeef11223344bede000111abcd0000070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5fc030a1118",
        "90e00000deadbeef11223344bede000111abcd00bf11606eb8e6f952dad85feb60c7c1aaa8478c4a445ab641e9b076054bd96d01b2773f0c8e28d48bf5bb3fde0f0309a325789da5c86454b7b2",
    ),
    (
        "80e00001deadbeef1122334401080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3dae1e8eff6fd040b1219",
        "80e00001deadbeef112233448425f9e61fb1b57b41fe29acf3eb94c710ac34adcf95f416b790dd7ef2d8620e0a17fa702c9206286b2ec135086b417d60eb3dc970de9570ee",
    ),
];
const AEAD_AES_128_GCM_RTCP: [(&str, &str); 2] = [
    (
        "80c8000611223344e8f0a1b2c3d4e5f6deadbeef0000001000004000",
        "80c8000611223344096c56e4b22e79a21851bccd46aa7df7a194928d5ec2699d1c4071cd6654188291a30d4380000001",
    ),
    (
        "80c8000611223344e8f0a1b2c3d4e5f6deadbeef0000001000004000",
        "80c8000611223344022164c34c22554629acff8621bc802d97da0e9e8040243311064543e04e6496798dbdca80000002",
    ),
];

const AEAD_AES_256_GCM_RTP: [(&str, &str); 4] = [
    (
        "80e0fffedeadbeef11223344fe050c131a21282f363d444b525960676e757c838a91989fa6adb4bbc2c9d0d7dee5ecf3fa01080f16",
        "80e0fffedeadbeef112233448a087af16cca9c68aed8c324f983f3e5c2d88f9c7efd850bc8ffe3c454f0bcfb3a36969359c34a0a5aa99b4b91af5fea7544d079862436439d",
    ),
    (
        "90e0ffffdeadbeef11223344bede000111abcd00ff060d141b222930373e454c535a61686f767d848b9299a0a7aeb5bcc3cad1d8dfe6edf4fb02091017",
        "90e0ffffdeadbeef11223344bede000111abcd002b39aae655c6bd421a62093309f787046210cd8034289b674e9d010a44d321a301aef1315a42724a313470ef7268cce894627bd9e8b68c3ce3",
    ),
    (
        "90e00000deadbeef11223344bede000111abcd0000070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5fc030a1118",
        "90e00000deadbeef11223344bede000111abcd006c6a4291776d8b10658c41d64cd82917e16a158831d220f640a4d6a0d858c5080f586d5355383e634e1ca97bdb56f60d9c4ab2527e4009d9ea",
    ),
    (
        "80e00001deadbeef1122334401080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3dae1e8eff6fd040b1219",
        "80e00001deadbeef112233448ee9a51c61f053179be3bbdce5d98d539bf16176f8dafcc48ecad9b9e7abeaa417a32e6e964bcd83a16d2035d790d01716779306b8e192db9e",
    ),
];
const AEAD_AES_256_GCM_RTCP: [(&str, &str); 2] = [
    (
        "80c8000611223344e8f0a1b2c3d4e5f6deadbeef0000001000004000",
        "80c80006112233445d77c1abb9ccdd9c0fe483d8bfceb915cb71f0afa6c1b8e37837bcc10b1713eb288525df80000001",
    ),
    (
        "80c8000611223344e8f0a1b2c3d4e5f6deadbeef0000001000004000",
        "80c800061122334460dbf0ebcb1f8bdcc0239f4325d4ebe37983064203993fd73d36967db05842c0151f861e80000002",
    ),
];

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The vectors' master key and salt for `suite`.
fn master(suite: SrtpSuite) -> (Vec<u8>, Vec<u8>) {
    let key = (1..=suite.key_len() as u8).collect();
    let salt = (0..suite.salt_len() as u8).map(|i| 0xa0 + i).collect();
    (key, salt)
}

fn check(suite: SrtpSuite, rtp: &[(&str, &str)], rtcp: &[(&str, &str)]) {
    let (key, salt) = master(suite);
    let tx = SrtpTx::new(suite, &key, &salt).unwrap();
    let mut roc = RolloverCounter::default();
    for (i, (plain, protected)) in rtp.iter().enumerate() {
        let mut buf = hex(plain);
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        // The X bit: a one-word extension block after the fixed header.
        let header_len = if buf[0] & 0x10 != 0 { 20 } else { 12 };
        tx.protect_rtp(&mut buf, header_len, roc.roc(seq)).unwrap();
        assert_eq!(buf.len(), hex(plain).len() + suite.rtp_overhead());
        assert_eq!(buf, hex(protected), "{suite:?} RTP packet {i} (seq {seq})");
    }
    let rx = SrtcpRx::new(suite, &key, &salt).unwrap();
    let mut out = Vec::new();
    for (i, (plain, protected)) in rtcp.iter().enumerate() {
        let mut buf = hex(plain);
        tx.protect_rtcp(&mut buf, i as u32 + 1).unwrap();
        assert_eq!(buf, hex(protected), "{suite:?} RTCP packet {i}");
        // And back: libsrtp's packet opens to the plain one.
        assert_eq!(rx.unprotect(&buf, &mut out), Ok(i as u32 + 1));
        assert_eq!(out, hex(plain), "{suite:?} RTCP packet {i} unprotected");
        // Any byte changed (header, body, index or tag): refused.
        for at in [1, 9, buf.len() - 11, buf.len() - 1] {
            let mut bad = buf.clone();
            bad[at] ^= 0x01;
            assert_eq!(
                rx.unprotect(&bad, &mut out),
                Err(SrtpError::Auth),
                "byte {at}"
            );
        }
        assert!(rx.unprotect(&buf[..12], &mut out).is_err());
    }
}

#[test]
fn aes_128_cm_sha1_80_matches_libsrtp() {
    check(
        SrtpSuite::Aes128CmSha1_80,
        &AES128_CM_SHA1_80_RTP,
        &AES128_CM_SHA1_80_RTCP,
    );
}

#[test]
fn aead_aes_128_gcm_matches_libsrtp() {
    check(
        SrtpSuite::AeadAes128Gcm,
        &AEAD_AES_128_GCM_RTP,
        &AEAD_AES_128_GCM_RTCP,
    );
}

#[test]
fn aead_aes_256_gcm_matches_libsrtp() {
    check(
        SrtpSuite::AeadAes256Gcm,
        &AEAD_AES_256_GCM_RTP,
        &AEAD_AES_256_GCM_RTCP,
    );
}

#[test]
fn keying_material_gives_each_role_its_own_write_key() {
    for suite in [
        SrtpSuite::Aes128CmSha1_80,
        SrtpSuite::AeadAes128Gcm,
        SrtpSuite::AeadAes256Gcm,
    ] {
        let (k, s) = (suite.key_len(), suite.salt_len());
        // client key ‖ server key ‖ client salt ‖ server salt.
        let (ck, cs) = master(suite);
        let sk: Vec<u8> = ck.iter().map(|b| b ^ 0x5a).collect();
        let ss: Vec<u8> = cs.iter().map(|b| b ^ 0x5a).collect();
        let material = [&ck[..], &sk, &cs, &ss].concat();
        assert_eq!(material.len(), suite.keying_material_len());
        let protect = |tx: &SrtpTx| {
            let mut buf = hex(AEAD_AES_128_GCM_RTP[0].0);
            tx.protect_rtp(&mut buf, 12, 0).unwrap();
            buf
        };
        let client = SrtpTx::from_keying_material(suite, &material, true).unwrap();
        let server = SrtpTx::from_keying_material(suite, &material, false).unwrap();
        assert_eq!(
            protect(&client),
            protect(&SrtpTx::new(suite, &ck, &cs).unwrap())
        );
        assert_eq!(
            protect(&server),
            protect(&SrtpTx::new(suite, &sk, &ss).unwrap())
        );
        assert_ne!(protect(&client), protect(&server));
        // Each end reads the other's RTCP.
        let mut sr = hex(AES128_CM_SHA1_80_RTCP[0].0);
        client.protect_rtcp(&mut sr, 5).unwrap();
        let mut out = Vec::new();
        let at_server = SrtcpRx::from_keying_material(suite, &material, false).unwrap();
        assert_eq!(at_server.unprotect(&sr, &mut out), Ok(5));
        let at_client = SrtcpRx::from_keying_material(suite, &material, true).unwrap();
        assert_eq!(at_client.unprotect(&sr, &mut out), Err(SrtpError::Auth));
        assert_eq!(
            SrtpTx::from_keying_material(suite, &material[1..], true).unwrap_err(),
            SrtpError::KeyingMaterial {
                got: 2 * (k + s) - 1,
                need: 2 * (k + s)
            }
        );
    }
}

#[test]
fn short_packets_are_refused() {
    let (key, salt) = master(SrtpSuite::AeadAes128Gcm);
    let tx = SrtpTx::new(SrtpSuite::AeadAes128Gcm, &key, &salt).unwrap();
    assert!(tx.protect_rtp(&mut vec![0x80; 11], 12, 0).is_err());
    assert!(tx.protect_rtp(&mut vec![0x80; 16], 20, 0).is_err());
    assert!(tx.protect_rtcp(&mut vec![0x80; 7], 1).is_err());
    // A header with no payload is a valid packet.
    let mut empty = vec![0x80; 12];
    tx.protect_rtp(&mut empty, 12, 0).unwrap();
    assert_eq!(empty.len(), 12 + GCM_TAG);
}

#[test]
fn rollover_counter_follows_wraps_and_late_packets() {
    let mut r = RolloverCounter::default();
    assert_eq!(r.roc(65_000), 0);
    assert_eq!(r.roc(65_535), 0);
    assert_eq!(r.roc(3), 1);
    // Sent again after the wrap (a retransmission): still cycle 0.
    assert_eq!(r.roc(65_534), 0);
    assert_eq!(r.roc(4), 1);
    for seq in (5..=65_535u16).step_by(1000) {
        assert_eq!(r.roc(seq), 1);
    }
    assert_eq!(r.roc(65_535), 1);
    assert_eq!(r.roc(0), 2);
    // Before the first packet's cycle: cycle 0, not a wrap below zero.
    let mut first = RolloverCounter::default();
    assert_eq!(first.roc(10), 0);
    assert_eq!(first.roc(60_000), 0);
    assert_eq!(first.roc(11), 0);
}

#[test]
fn protecting_from_a_shared_payload_equals_protecting_a_copy() {
    // Header of the second libsrtp vector (with a one-byte extension),
    // payloads of several lengths, patches of none, a few and too many
    // leading bytes: the packet is the same as a patched copy protected
    // in place, in every suite, and the shared payload is untouched.
    let header = hex("90e0ffffdeadbeef11223344bede000111abcd00");
    for suite in [
        SrtpSuite::Aes128CmSha1_80,
        SrtpSuite::AeadAes128Gcm,
        SrtpSuite::AeadAes256Gcm,
    ] {
        let (key, salt) = master(suite);
        let tx = SrtpTx::new(suite, &key, &salt).unwrap();
        for len in [0, 1, 3, 15, 16, 17, 100, 1000] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
            for patched in [0, 1, 5, MAX_PATCHED, MAX_PATCHED + 4] {
                let patch = |p: &mut [u8]| {
                    for b in p.iter_mut().take(patched) {
                        *b ^= 0xa5;
                    }
                };
                let mut copy = [&header[..], &payload].concat();
                patch(&mut copy[header.len()..]);
                tx.protect_rtp(&mut copy, header.len(), 3).unwrap();
                let mut shared = bytes::BytesMut::from(&header[..]);
                tx.protect_rtp_payload(&mut shared, &payload, patched, patch, 3)
                    .unwrap();
                assert_eq!(
                    &shared[..],
                    &copy[..],
                    "{suite:?}, {len} bytes, {patched} patched"
                );
                assert!(payload
                    .iter()
                    .enumerate()
                    .all(|(i, b)| *b == (i * 7 + 1) as u8));
            }
        }
    }
}
