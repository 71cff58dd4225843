//! The SRTP floor: what any SFU must do per forwarded packet, with the
//! router's own crypto provider: decrypt the input once, then per
//! subscriber copy the header, rewrite SSRC, sequence number, timestamp and
//! payload type, and encrypt. Shared by `forward` (next to the router) and
//! `floor_net` (with the kernel's send path).

use std::hint::black_box;

use str0m::crypto::dtls::SrtpProfile;
use str0m::crypto::{
    AeadAes128Gcm, AeadAes128GcmCipher, AeadAes256Gcm, AeadAes256GcmCipher, Aes128CmSha1_80,
    Aes128CmSha1_80Cipher, CryptoProvider,
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Profile {
    AeadAes256Gcm,
    AeadAes128Gcm,
    Aes128CmSha1_80,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::AeadAes256Gcm => "aead_aes_256_gcm",
            Profile::AeadAes128Gcm => "aead_aes_128_gcm",
            Profile::Aes128CmSha1_80 => "aes_128_cm_sha1_80",
        }
    }

    pub const ALL: [Profile; 3] = [
        Profile::AeadAes256Gcm,
        Profile::AeadAes128Gcm,
        Profile::Aes128CmSha1_80,
    ];

    /// Profiles the router is measured with: all three with the
    /// `bench-openssl` feature (an OpenSSL client can offer one profile),
    /// else the one str0m's own DTLS negotiates.
    pub const ROUTER: &'static [Profile] = if cfg!(feature = "bench-openssl") {
        &Profile::ALL
    } else {
        &[Profile::AeadAes256Gcm]
    };

    pub fn from_name(name: &str) -> Profile {
        *Profile::ALL
            .iter()
            .find(|p| p.name() == name)
            .unwrap_or_else(|| panic!("unknown profile {name}"))
    }

    pub fn srtp(self) -> SrtpProfile {
        match self {
            Profile::AeadAes256Gcm => SrtpProfile::AEAD_AES_256_GCM,
            Profile::AeadAes128Gcm => SrtpProfile::AEAD_AES_128_GCM,
            Profile::Aes128CmSha1_80 => SrtpProfile::AES128_CM_SHA1_80,
        }
    }

    pub fn tag_len(self) -> usize {
        match self {
            Profile::AeadAes256Gcm => AeadAes256Gcm::TAG_LEN,
            Profile::AeadAes128Gcm => AeadAes128Gcm::TAG_LEN,
            Profile::Aes128CmSha1_80 => Aes128CmSha1_80::HMAC_TAG_LEN,
        }
    }
}

enum Cipher {
    Gcm256(Box<dyn AeadAes256GcmCipher>),
    Gcm128(Box<dyn AeadAes128GcmCipher>),
    Cm(Box<dyn Aes128CmSha1_80Cipher>),
}

/// One direction of one SRTP session (keys made up, per session).
struct Session {
    cipher: Cipher,
    salt: [u8; 14],
    auth_key: [u8; 20],
    ssrc: u32,
}

fn gcm_salt(salt: &[u8; 14]) -> [u8; 12] {
    salt[..12].try_into().unwrap()
}

fn roc(index: u64) -> u32 {
    (index >> 16) as u32
}

/// What aws-lc-rs needs past the end of an AES-CM output (str0m's value).
const CTR_PADDING: usize = 15;

impl Session {
    fn new(provider: &CryptoProvider, profile: Profile, seed: u8, encrypt: bool) -> Session {
        let key = |n: usize| -> Vec<u8> { (0..n).map(|i| seed ^ (i as u8 * 31)).collect() };
        let srtp = provider.srtp_provider;
        let cipher = match profile {
            Profile::AeadAes256Gcm => Cipher::Gcm256(
                srtp.aead_aes_256_gcm()
                    .create_cipher(key(32).try_into().unwrap(), encrypt),
            ),
            Profile::AeadAes128Gcm => Cipher::Gcm128(
                srtp.aead_aes_128_gcm()
                    .create_cipher(key(16).try_into().unwrap(), encrypt),
            ),
            Profile::Aes128CmSha1_80 => Cipher::Cm(
                srtp.aes_128_cm_sha1_80()
                    .create_cipher(key(16).try_into().unwrap(), encrypt),
            ),
        };
        Session {
            cipher,
            salt: key(14).try_into().unwrap(),
            auth_key: key(20).try_into().unwrap(),
            ssrc: 0x1000_0000 | seed as u32,
        }
    }

    /// SRTP-protect `header` + `payload` (header already rewritten).
    fn protect(
        &mut self,
        hmac: &dyn str0m::crypto::Sha1HmacProvider,
        header: &[u8],
        payload: &[u8],
        index: u64,
    ) -> Vec<u8> {
        let hlen = header.len();
        let ssrc = u32::from_be_bytes(header[8..12].try_into().unwrap());
        match &mut self.cipher {
            Cipher::Gcm256(c) => {
                let mut out = vec![0; hlen + payload.len() + AeadAes256Gcm::TAG_LEN];
                let iv =
                    AeadAes256Gcm::rtp_iv(gcm_salt(&self.salt), ssrc, roc(index), index as u16);
                c.encrypt(&iv, header, payload, &mut out[hlen..])
                    .expect("encrypt");
                out[..hlen].copy_from_slice(header);
                out
            }
            Cipher::Gcm128(c) => {
                let mut out = vec![0; hlen + payload.len() + AeadAes128Gcm::TAG_LEN];
                let iv =
                    AeadAes128Gcm::rtp_iv(gcm_salt(&self.salt), ssrc, roc(index), index as u16);
                c.encrypt(&iv, header, payload, &mut out[hlen..])
                    .expect("encrypt");
                out[..hlen].copy_from_slice(header);
                out
            }
            Cipher::Cm(c) => {
                let tag = Aes128CmSha1_80::HMAC_TAG_LEN;
                let len = hlen + payload.len();
                let mut out = vec![0; len + tag + CTR_PADDING - tag];
                let iv = Aes128CmSha1_80::rtp_iv(self.salt, ssrc, index);
                c.encrypt(&iv, payload, &mut out[hlen..]).expect("encrypt");
                out[..hlen].copy_from_slice(header);
                let mac = |k: &[u8], p: &[&[u8]]| hmac.sha1_hmac(k, p);
                Aes128CmSha1_80::rtp_hmac(mac, &self.auth_key, &mut out, index, len);
                out.truncate(len + tag);
                out
            }
        }
    }

    /// Verify and decrypt into `out`; returns the payload length.
    fn unprotect(
        &mut self,
        hmac: &dyn str0m::crypto::Sha1HmacProvider,
        packet: &[u8],
        hlen: usize,
        index: u64,
        out: &mut Vec<u8>,
    ) -> usize {
        let ssrc = u32::from_be_bytes(packet[8..12].try_into().unwrap());
        let (header, body) = packet.split_at(hlen);
        match &mut self.cipher {
            Cipher::Gcm256(c) => {
                let iv =
                    AeadAes256Gcm::rtp_iv(gcm_salt(&self.salt), ssrc, roc(index), index as u16);
                out.resize(body.len() - AeadAes256Gcm::TAG_LEN, 0);
                c.decrypt(&iv, &[header], body, out).expect("decrypt")
            }
            Cipher::Gcm128(c) => {
                let iv =
                    AeadAes128Gcm::rtp_iv(gcm_salt(&self.salt), ssrc, roc(index), index as u16);
                out.resize(body.len() - AeadAes128Gcm::TAG_LEN, 0);
                c.decrypt(&iv, &[header], body, out).expect("decrypt")
            }
            Cipher::Cm(c) => {
                let tag_at = packet.len() - Aes128CmSha1_80::HMAC_TAG_LEN;
                let mac = |k: &[u8], p: &[&[u8]]| hmac.sha1_hmac(k, p);
                let ok = Aes128CmSha1_80::rtp_verify(
                    mac,
                    &self.auth_key,
                    &packet[..tag_at],
                    index,
                    &packet[tag_at..],
                );
                assert!(ok, "hmac");
                let iv = Aes128CmSha1_80::rtp_iv(self.salt, ssrc, index);
                let n = tag_at - hlen;
                out.resize(n + CTR_PADDING, 0);
                c.decrypt(&iv, &packet[hlen..tag_at], out).expect("decrypt");
                n
            }
        }
    }
}

pub struct Floor {
    provider: CryptoProvider,
    /// The publisher's SRTP packet (same header and payload sizes as the router's input).
    packet: Vec<u8>,
    hlen: usize,
    /// SRTP index of `packet`.
    index: u64,
    /// Outgoing packets so far (drives the rewritten numbers).
    sent: u64,
    rx: Session,
    tx: Vec<Session>,
    plain: Vec<u8>,
    header: Vec<u8>,
}

/// The payload length of a publisher's AES-256-GCM SRTP datagram.
pub fn payload_len(sample: &[u8]) -> usize {
    sample.len() - header_len(sample) - AeadAes256Gcm::TAG_LEN
}

/// RTP header length (fixed part, CSRCs, extension).
fn header_len(p: &[u8]) -> usize {
    let mut n = 12 + 4 * (p[0] & 0x0f) as usize;
    if p[0] & 0x10 != 0 {
        n += 4 + 4 * u16::from_be_bytes([p[n + 2], p[n + 3]]) as usize;
    }
    n
}

impl Floor {
    /// `sample`: a real publisher SRTP datagram; its header and payload size are reused.
    pub fn new(profile: Profile, subscribers: usize, sample: &[u8]) -> Floor {
        // The router's own provider: the floor gets the same kept key
        // schedules as the router's transports.
        let provider = manifold_sfu::testkit_hooks::crypto_provider();
        let hlen = header_len(sample);
        let payload_len = payload_len(sample);
        let header = sample[..hlen].to_vec();
        let plain: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
        let index = 1000;
        let mut enc = Session::new(&provider, profile, 0, true);
        let packet = enc.protect(provider.sha1_hmac_provider, &header, &plain, index);
        assert_eq!(packet.len(), hlen + payload_len + profile.tag_len());
        let rx = Session::new(&provider, profile, 0, false);
        let tx = (0..subscribers)
            .map(|i| Session::new(&provider, profile, 1 + i as u8, true))
            .collect();
        Floor {
            provider,
            packet,
            hlen,
            index,
            sent: 0,
            rx,
            tx,
            plain: Vec::with_capacity(2048),
            header,
        }
    }

    /// One packet in, one packet out per subscriber.
    pub fn forward(&mut self) -> usize {
        let mut bytes = 0;
        let packet = std::mem::take(&mut self.packet);
        self.forward_each(&packet, |_, out| bytes += black_box(out).len());
        self.packet = packet;
        bytes
    }

    /// The publisher's SRTP packet this floor decrypts.
    pub fn packet(&self) -> &[u8] {
        &self.packet
    }

    /// Decrypt `packet` (one of [`packet`](Self::packet)'s copies) once,
    /// then hand each subscriber's SRTP packet to `out` (subscriber index,
    /// bytes).
    pub fn forward_each(&mut self, packet: &[u8], mut out: impl FnMut(usize, Vec<u8>)) {
        let hmac = self.provider.sha1_hmac_provider;
        let n = self
            .rx
            .unprotect(hmac, packet, self.hlen, self.index, &mut self.plain);
        self.sent += 1;
        for (i, s) in self.tx.iter_mut().enumerate() {
            // Per-subscriber numbers; the header is copied into the output by `protect`.
            let seq = self.sent + i as u64 * 7919;
            let h = &mut self.header;
            h[1] = (h[1] & 0x80) | 96;
            h[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
            h[4..8].copy_from_slice(&(seq as u32).wrapping_mul(3000).to_be_bytes());
            h[8..12].copy_from_slice(&s.ssrc.to_be_bytes());
            out(i, s.protect(hmac, h, &self.plain[..n], seq));
        }
    }
}
