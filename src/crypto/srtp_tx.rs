//! The sending half of an SRTP session, with its keys kept (issue #19,
//! step 1 of `docs/owned-send-path.md`).
//!
//! str0m protects every packet a transport sends through its own SRTP
//! context, reached only through its general per-stream send path. The
//! owned send path of forwarded media needs to protect packets itself:
//! session keys derived once from the DTLS keying material (RFC 5764
//! section 4.2, RFC 3711 section 4.3), then per packet one pass of AES
//! over a buffer the caller built (header rewritten, payload copied), in
//! place:
//!
//! * AES-128-CM with HMAC-SHA1-80 (RFC 3711): counter-mode keystream,
//!   then an 80-bit tag over the packet and its rollover counter;
//! * AEAD-AES-128-GCM and AEAD-AES-256-GCM (RFC 7714): the header is
//!   authenticated data, a 128-bit tag follows the payload.
//!
//! RTP and RTCP (an SRTCP index per sending SSRC, chosen by the caller).
//! The tests check every profile byte for byte against libsrtp, an
//! implementation other than ours and str0m's.
//!
//! Nothing calls this yet outside its tests: the owned send path (steps 2
//! to 6 of the plan) will. It keeps no per-stream state except what
//! [`RolloverCounter`] tracks for one sending SSRC.
#![cfg_attr(not(test), allow(dead_code))]

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128, AES_256};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;

use crate::transport::owned::header::PacketBuf;

/// The SRTP protection profiles WebRTC negotiates (RFC 5764, RFC 7714).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SrtpSuite {
    Aes128CmSha1_80,
    AeadAes128Gcm,
    AeadAes256Gcm,
}

impl SrtpSuite {
    /// Master (and session encryption) key length in bytes.
    pub(crate) fn key_len(self) -> usize {
        match self {
            SrtpSuite::Aes128CmSha1_80 | SrtpSuite::AeadAes128Gcm => 16,
            SrtpSuite::AeadAes256Gcm => 32,
        }
    }

    /// Master (and session) salt length in bytes.
    pub(crate) fn salt_len(self) -> usize {
        match self {
            SrtpSuite::Aes128CmSha1_80 => 14,
            SrtpSuite::AeadAes128Gcm | SrtpSuite::AeadAes256Gcm => 12,
        }
    }

    /// Bytes a protected RTP packet has beyond its plain form.
    pub(crate) fn rtp_overhead(self) -> usize {
        match self {
            SrtpSuite::Aes128CmSha1_80 => CM_TAG,
            SrtpSuite::AeadAes128Gcm | SrtpSuite::AeadAes256Gcm => GCM_TAG,
        }
    }

    /// Length of the DTLS-SRTP keying material to export for this suite.
    pub(crate) fn keying_material_len(self) -> usize {
        2 * (self.key_len() + self.salt_len())
    }
}

/// Why a packet could not be protected, or keys could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum SrtpError {
    #[error("keying material has {got} bytes, the suite needs {need}")]
    KeyingMaterial { got: usize, need: usize },
    #[error("packet of {len} bytes is shorter than its {header} header bytes")]
    Short { len: usize, header: usize },
    #[error("authentication failed")]
    Auth,
    #[error("the crypto library refused: {0}")]
    Crypto(&'static str),
}

const CM_TAG: usize = 10;
const GCM_TAG: usize = 16;
/// The most leading payload bytes [`SrtpTx::protect_rtp_payload`] patches
/// (a VP8 payload descriptor's renumbered fields lie in its first 5).
pub(crate) const MAX_PATCHED: usize = 16;
/// SRTCP's E flag: the packet is encrypted.
const SRTCP_E: u32 = 0x8000_0000;

/// RFC 3711 section 4.3.1 labels.
const LABEL_RTP_ENCRYPTION: u8 = 0;
const LABEL_RTP_AUTH: u8 = 1;
const LABEL_RTP_SALT: u8 = 2;
const LABEL_RTCP_ENCRYPTION: u8 = 3;
const LABEL_RTCP_AUTH: u8 = 4;
const LABEL_RTCP_SALT: u8 = 5;

/// One direction's session keys for RTP or for RTCP. The AES key
/// schedule makes the counter-mode variant large; there are two per
/// transport, and a box would cost a pointer chase per packet.
#[allow(clippy::large_enum_variant)]
enum Keys {
    Cm {
        aes: EncryptingKey,
        salt: [u8; 14],
        auth: hmac::Key,
    },
    Gcm {
        key: LessSafeKey,
        salt: [u8; 12],
    },
}

/// The sending half of an SRTP session: RTP and RTCP session keys for one
/// direction, derived once.
pub(crate) struct SrtpTx {
    suite: SrtpSuite,
    rtp: Keys,
    rtcp: Keys,
}

impl std::fmt::Debug for SrtpTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys.
        f.debug_struct("SrtpTx")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl SrtpTx {
    /// The sending keys of one end of a DTLS-SRTP association, from the
    /// exported keying material (RFC 5764 section 4.2: client key, server
    /// key, client salt, server salt). `dtls_client`: this end had the DTLS
    /// client role, so it sends with the client's key and salt.
    pub(crate) fn from_keying_material(
        suite: SrtpSuite,
        material: &[u8],
        dtls_client: bool,
    ) -> Result<Self, SrtpError> {
        let (key, salt) = split(suite, material, dtls_client)?;
        Self::new(suite, key, salt)
    }

    /// The sending keys derived from one master key and salt.
    pub(crate) fn new(
        suite: SrtpSuite,
        master_key: &[u8],
        master_salt: &[u8],
    ) -> Result<Self, SrtpError> {
        if master_key.len() != suite.key_len() || master_salt.len() != suite.salt_len() {
            return Err(SrtpError::KeyingMaterial {
                got: master_key.len() + master_salt.len(),
                need: suite.key_len() + suite.salt_len(),
            });
        }
        let (rtp, rtcp) = session_keys(suite, master_key, master_salt)?;
        Ok(SrtpTx { suite, rtp, rtcp })
    }

    pub(crate) fn suite(&self) -> SrtpSuite {
        self.suite
    }

    /// Protect the RTP packet in `buf` in place: its first `header_len`
    /// bytes are the header (with CSRCs and extensions), the rest the
    /// payload; `roc` is the stream's rollover counter for this packet's
    /// sequence number. Appends the tag ([`SrtpSuite::rtp_overhead`]).
    pub(crate) fn protect_rtp<B: PacketBuf>(
        &self,
        buf: &mut B,
        header_len: usize,
        roc: u32,
    ) -> Result<(), SrtpError> {
        if buf.len() < header_len || header_len < 12 {
            return Err(SrtpError::Short {
                len: buf.len(),
                header: header_len.max(12),
            });
        }
        // In range: the length was checked above.
        let ssrc = [buf[8], buf[9], buf[10], buf[11]];
        let seq = [buf[2], buf[3]];
        match &self.rtp {
            Keys::Cm { aes, salt, auth } => {
                // IV = salt·2^16 ⊕ SSRC·2^64 ⊕ (ROC ‖ SEQ)·2^16.
                let mut iv = [0u8; 16];
                iv[..14].copy_from_slice(salt);
                xor(&mut iv[4..8], &ssrc);
                xor(&mut iv[8..12], &roc.to_be_bytes());
                xor(&mut iv[12..14], &seq);
                aes.less_safe_encrypt(
                    &mut buf[header_len..],
                    EncryptionContext::Iv128(FixedLength::from(iv)),
                )
                .map_err(|_| SrtpError::Crypto("AES-CTR"))?;
                let mut mac = hmac::Context::with_key(auth);
                mac.update(buf);
                mac.update(&roc.to_be_bytes());
                let tag = mac.sign();
                buf.extend_from_slice(&tag.as_ref()[..CM_TAG]);
            }
            Keys::Gcm { key, salt } => {
                let iv = gcm_iv(salt, &buf[..], roc);
                let (header, payload) = buf.split_at_mut(header_len);
                let tag = key
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(iv),
                        Aad::from(&*header),
                        payload,
                    )
                    .map_err(|_| SrtpError::Crypto("AES-GCM"))?;
                buf.extend_from_slice(tag.as_ref());
            }
        }
        Ok(())
    }

    /// Protect an RTP packet whose header is all of `buf` and whose
    /// payload is `payload` with `patch` applied to a copy of its first
    /// `patched` bytes (`patch` must not touch bytes past them): the encrypted payload and the tag are appended to
    /// `buf`. The result is [`protect_rtp`](Self::protect_rtp) of the
    /// header, the patched payload, byte for byte.
    ///
    /// With AES-GCM the payload is encrypted straight from `payload` into
    /// `buf` (only the patched bytes are copied first): the forwarding
    /// path shares one payload between all subscribers, and a copy of it
    /// per subscriber before encrypting in place is a pass over a
    /// kilobyte the cipher reads again at once. AES-CM encrypts in place
    /// after the copy, as does AES-GCM when more than [`MAX_PATCHED`]
    /// bytes are patched.
    pub(crate) fn protect_rtp_payload<B: PacketBuf>(
        &self,
        buf: &mut B,
        payload: &[u8],
        patched: usize,
        patch: impl FnOnce(&mut [u8]),
        roc: u32,
    ) -> Result<(), SrtpError> {
        let header_len = buf.len();
        let (Keys::Gcm { key, salt }, true) = (&self.rtp, patched <= MAX_PATCHED) else {
            buf.extend_from_slice(payload);
            patch(&mut buf[header_len..]);
            return self.protect_rtp(buf, header_len, roc);
        };
        if header_len < 12 {
            return Err(SrtpError::Short {
                len: header_len,
                header: 12,
            });
        }
        let iv = gcm_iv(salt, &buf[..header_len], roc);
        let k = patched.min(payload.len());
        let mut first = [0u8; MAX_PATCHED];
        first[..k].copy_from_slice(&payload[..k]);
        patch(&mut first[..k]);
        buf.resize(header_len + payload.len() + GCM_TAG);
        let (header, body) = buf.split_at_mut(header_len);
        let (out_first, out_rest) = body.split_at_mut(k);
        key.seal_out_of_place_scatter(
            Nonce::assume_unique_for_key(iv),
            Aad::from(&*header),
            &first[..k],
            out_first,
            &payload[k..],
            out_rest,
        )
        .map_err(|_| SrtpError::Crypto("AES-GCM"))
    }

    /// Protect the (compound) RTCP packet in `buf` in place with SRTCP
    /// index `index` (31 bits; one counter per sending SSRC, starting at
    /// 1 for libsrtp peers' replay windows, never reused under one key).
    /// Appends the E flag with the index and the tag.
    pub(crate) fn protect_rtcp(&self, buf: &mut Vec<u8>, index: u32) -> Result<(), SrtpError> {
        if buf.len() < 8 {
            return Err(SrtpError::Short {
                len: buf.len(),
                header: 8,
            });
        }
        let index = index & !SRTCP_E;
        let ssrc = [buf[4], buf[5], buf[6], buf[7]];
        let e_index = (SRTCP_E | index).to_be_bytes();
        match &self.rtcp {
            Keys::Cm { aes, salt, auth } => {
                aes.less_safe_encrypt(
                    &mut buf[8..],
                    EncryptionContext::Iv128(FixedLength::from(srtcp_cm_iv(salt, ssrc, index))),
                )
                .map_err(|_| SrtpError::Crypto("AES-CTR"))?;
                buf.extend_from_slice(&e_index);
                let tag = hmac::sign(auth, buf);
                buf.extend_from_slice(&tag.as_ref()[..CM_TAG]);
            }
            Keys::Gcm { key, salt } => {
                // IV = (0 ‖ SSRC ‖ 0 ‖ index) ⊕ salt; AAD = the first 8
                // bytes and E ‖ index (RFC 7714 section 9).
                let (iv, aad) = srtcp_gcm_iv_aad(salt, &buf[..8], e_index);
                let tag = key
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(iv),
                        Aad::from(&aad),
                        &mut buf[8..],
                    )
                    .map_err(|_| SrtpError::Crypto("AES-GCM"))?;
                buf.extend_from_slice(tag.as_ref());
                buf.extend_from_slice(&e_index);
            }
        }
        Ok(())
    }
}

/// One end's master key and salt in DTLS-SRTP keying material (RFC 5764
/// section 4.2: client key, server key, client salt, server salt).
fn split(suite: SrtpSuite, material: &[u8], client: bool) -> Result<(&[u8], &[u8]), SrtpError> {
    let (k, s) = (suite.key_len(), suite.salt_len());
    if material.len() != suite.keying_material_len() {
        return Err(SrtpError::KeyingMaterial {
            got: material.len(),
            need: suite.keying_material_len(),
        });
    }
    Ok(if client {
        (&material[..k], &material[2 * k..2 * k + s])
    } else {
        (&material[k..2 * k], &material[2 * k + s..])
    })
}

/// The RTP and RTCP session keys of one master key and salt.
fn session_keys(
    suite: SrtpSuite,
    master_key: &[u8],
    master_salt: &[u8],
) -> Result<(Keys, Keys), SrtpError> {
    if master_key.len() != suite.key_len() || master_salt.len() != suite.salt_len() {
        return Err(SrtpError::KeyingMaterial {
            got: master_key.len() + master_salt.len(),
            need: suite.key_len() + suite.salt_len(),
        });
    }
    let prf = Prf::new(master_key, master_salt)?;
    let keys = |enc: u8, auth: u8, salt: u8| -> Result<Keys, SrtpError> {
        let mut key = [0u8; 32];
        let key = &mut key[..suite.key_len()];
        prf.derive(enc, key)?;
        match suite {
            SrtpSuite::Aes128CmSha1_80 => {
                let mut session_salt = [0u8; 14];
                prf.derive(salt, &mut session_salt)?;
                let mut auth_key = [0u8; 20];
                prf.derive(auth, &mut auth_key)?;
                Ok(Keys::Cm {
                    aes: ctr_key(key)?,
                    salt: session_salt,
                    auth: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &auth_key),
                })
            }
            SrtpSuite::AeadAes128Gcm | SrtpSuite::AeadAes256Gcm => {
                let mut session_salt = [0u8; 12];
                prf.derive(salt, &mut session_salt)?;
                let alg = if suite == SrtpSuite::AeadAes128Gcm {
                    &aead::AES_128_GCM
                } else {
                    &aead::AES_256_GCM
                };
                let key = UnboundKey::new(alg, key).map_err(|_| SrtpError::Crypto("GCM key"))?;
                Ok(Keys::Gcm {
                    key: LessSafeKey::new(key),
                    salt: session_salt,
                })
            }
        }
    };
    Ok((
        keys(LABEL_RTP_ENCRYPTION, LABEL_RTP_AUTH, LABEL_RTP_SALT)?,
        keys(LABEL_RTCP_ENCRYPTION, LABEL_RTCP_AUTH, LABEL_RTCP_SALT)?,
    ))
}

/// The receiving half of SRTCP: the RTCP the peer sends (its receiver
/// reports, NACKs, transport-wide feedback), for the owned send path to
/// read beside str0m, which keeps its own receiving context and remains
/// the one that acts on the peer's RTCP for the streams it sends.
pub(crate) struct SrtcpRx {
    suite: SrtpSuite,
    rtcp: Keys,
}

impl std::fmt::Debug for SrtcpRx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtcpRx")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl SrtcpRx {
    /// The keys of what the other end sends: `dtls_client` is this end's
    /// role, so the peer's half of the material is the other one.
    pub(crate) fn from_keying_material(
        suite: SrtpSuite,
        material: &[u8],
        dtls_client: bool,
    ) -> Result<Self, SrtpError> {
        let (key, salt) = split(suite, material, !dtls_client)?;
        Self::new(suite, key, salt)
    }

    /// The receiving keys derived from the sender's master key and salt.
    pub(crate) fn new(
        suite: SrtpSuite,
        master_key: &[u8],
        master_salt: &[u8],
    ) -> Result<Self, SrtpError> {
        let (_, rtcp) = session_keys(suite, master_key, master_salt)?;
        Ok(SrtcpRx { suite, rtcp })
    }

    /// Check and decrypt an SRTCP packet into `out` (cleared first): the
    /// plain compound RTCP, without index and tag. Returns its SRTCP index.
    /// A packet that fails authentication is refused whole.
    pub(crate) fn unprotect(&self, packet: &[u8], out: &mut Vec<u8>) -> Result<u32, SrtpError> {
        out.clear();
        let tag = match self.rtcp {
            Keys::Cm { .. } => CM_TAG,
            Keys::Gcm { .. } => GCM_TAG,
        };
        if packet.len() < 8 + 4 + tag {
            return Err(SrtpError::Short {
                len: packet.len(),
                header: 8 + 4 + tag,
            });
        }
        // In range: the length was checked above.
        let ssrc = [packet[4], packet[5], packet[6], packet[7]];
        match &self.rtcp {
            Keys::Cm { aes, salt, auth } => {
                let (signed, received) = packet.split_at(packet.len() - CM_TAG);
                let expected = hmac::sign(auth, signed);
                let diff = expected.as_ref()[..CM_TAG]
                    .iter()
                    .zip(received)
                    .fold(0u8, |d, (a, b)| d | (a ^ b));
                if diff != 0 {
                    return Err(SrtpError::Auth);
                }
                let (body, e_index) = signed.split_at(signed.len() - 4);
                let e_index = u32::from_be_bytes([e_index[0], e_index[1], e_index[2], e_index[3]]);
                let index = e_index & !SRTCP_E;
                out.extend_from_slice(body);
                if e_index & SRTCP_E != 0 {
                    aes.less_safe_encrypt(
                        &mut out[8..],
                        EncryptionContext::Iv128(FixedLength::from(srtcp_cm_iv(salt, ssrc, index))),
                    )
                    .map_err(|_| SrtpError::Crypto("AES-CTR"))?;
                }
                Ok(index)
            }
            Keys::Gcm { key, salt } => {
                let (sealed, e_index) = packet.split_at(packet.len() - 4);
                let e_index_bytes = [e_index[0], e_index[1], e_index[2], e_index[3]];
                let index = u32::from_be_bytes(e_index_bytes) & !SRTCP_E;
                if u32::from_be_bytes(e_index_bytes) & SRTCP_E == 0 {
                    // Authenticated but not encrypted SRTCP: not used by
                    // WebRTC peers.
                    return Err(SrtpError::Auth);
                }
                let (iv, aad) = srtcp_gcm_iv_aad(salt, &packet[..8], e_index_bytes);
                out.extend_from_slice(sealed);
                let plain = key
                    .open_in_place(
                        Nonce::assume_unique_for_key(iv),
                        Aad::from(&aad),
                        &mut out[8..],
                    )
                    .map_err(|_| SrtpError::Auth)?
                    .len();
                out.truncate(8 + plain);
                Ok(index)
            }
        }
    }
}

/// The sender's rollover counter of one SSRC (RFC 3711 section 3.3.1):
/// which 2^16 cycle each sequence number belongs to, also for a packet
/// sent again after the counter moved on (the estimate of appendix A).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RolloverCounter {
    /// The highest index sent so far (ROC ‖ SEQ), if any.
    highest: Option<u64>,
}

impl RolloverCounter {
    /// The rollover counter for `seq`, remembering it if it is the newest.
    pub(crate) fn roc(&mut self, seq: u16) -> u32 {
        let Some(highest) = self.highest else {
            self.highest = Some(u64::from(seq));
            return 0;
        };
        let roc = (highest >> 16) as u32;
        let last = highest as u16;
        let guess = if last < 0x8000 {
            if seq > last && seq - last > 0x8000 {
                roc.wrapping_sub(1)
            } else {
                roc
            }
        } else if seq < last - 0x8000 {
            roc.wrapping_add(1)
        } else {
            roc
        };
        let index = (u64::from(guess) << 16) | u64::from(seq);
        // A guess below zero (the first cycle) stays a packet of cycle 0.
        if guess != u32::MAX && index > highest {
            self.highest = Some(index);
        }
        if guess == u32::MAX {
            0
        } else {
            guess
        }
    }
}

/// The key derivation function of RFC 3711 section 4.3 (AES in counter
/// mode over the label), with the key derivation rate 0 WebRTC uses.
struct Prf {
    aes: EncryptingKey,
    /// The master salt, zero-padded to 14 bytes (GCM's salt has 12).
    salt: [u8; 14],
}

impl Prf {
    fn new(master_key: &[u8], master_salt: &[u8]) -> Result<Self, SrtpError> {
        let mut salt = [0u8; 14];
        salt[..master_salt.len()].copy_from_slice(master_salt);
        Ok(Prf {
            aes: ctr_key(master_key)?,
            salt,
        })
    }

    fn derive(&self, label: u8, out: &mut [u8]) -> Result<(), SrtpError> {
        // x = (label ‖ 0⁴⁸) ⊕ salt; the keystream of IV x·2^16.
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        iv[7] ^= label;
        out.fill(0);
        self.aes
            .less_safe_encrypt(out, EncryptionContext::Iv128(FixedLength::from(iv)))
            .map(|_| ())
            .map_err(|_| SrtpError::Crypto("AES-CTR"))
    }
}

/// SRTCP's AES-CM IV (RFC 3711 section 4.1.1): salt·2^16 ⊕ SSRC·2^64 ⊕
/// index·2^16.
fn srtcp_cm_iv(salt: &[u8; 14], ssrc: [u8; 4], index: u32) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(salt);
    xor(&mut iv[4..8], &ssrc);
    xor(&mut iv[10..14], &index.to_be_bytes());
    iv
}

/// SRTCP's AEAD IV and additional data (RFC 7714 section 9): IV = (0 ‖
/// SSRC ‖ 0 ‖ index) ⊕ salt; AAD = the first 8 bytes, then E ‖ index.
fn srtcp_gcm_iv_aad(salt: &[u8; 12], first8: &[u8], e_index: [u8; 4]) -> ([u8; 12], [u8; 12]) {
    let mut iv = *salt;
    xor(&mut iv[2..6], &first8[4..8]);
    let index = u32::from_be_bytes(e_index) & !SRTCP_E;
    xor(&mut iv[8..12], &index.to_be_bytes());
    let mut aad = [0u8; 12];
    aad[..8].copy_from_slice(first8);
    aad[8..].copy_from_slice(&e_index);
    (iv, aad)
}

fn ctr_key(key: &[u8]) -> Result<EncryptingKey, SrtpError> {
    let alg = if key.len() == 32 { &AES_256 } else { &AES_128 };
    UnboundCipherKey::new(alg, key)
        .and_then(EncryptingKey::ctr)
        .map_err(|_| SrtpError::Crypto("AES-CTR key"))
}

/// The AES-GCM IV of an RTP packet (RFC 7714 section 8.1): (0 ‖ SSRC ‖
/// ROC ‖ SEQ) ⊕ salt, from the header at the start of `packet` (at
/// least 12 bytes, checked by the callers).
fn gcm_iv(salt: &[u8; 12], packet: &[u8], roc: u32) -> [u8; 12] {
    let mut iv = *salt;
    xor(&mut iv[2..6], &packet[8..12]);
    xor(&mut iv[6..10], &roc.to_be_bytes());
    xor(&mut iv[10..12], &packet[2..4]);
    iv
}

fn xor(into: &mut [u8], with: &[u8]) {
    for (a, b) in into.iter_mut().zip(with) {
        *a ^= b;
    }
}

#[cfg(test)]
#[path = "srtp_tx_tests.rs"]
mod tests;
