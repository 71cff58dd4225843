//! SRTP ciphers that keep their key schedules.
//!
//! str0m's aws-lc-rs provider handles AES-128-CM-SHA1-80 by building the
//! AES key schedule (`UnboundCipherKey` + `EncryptingKey::ctr`) for every
//! packet, and the HMAC-SHA1 key (`hmac::Key::new`) for every packet and
//! every STUN check, although the keys change only with a new DTLS session
//! (or, for STUN, an ICE restart). An SFU encrypts each forwarded packet
//! once per subscriber, so that per-packet setup was most of the profile's
//! cost (`docs/benchmarks.md`).
//!
//! This provider keeps the AES key schedule in the cipher instance str0m
//! creates once per SRTP context, and prepared HMAC keys in a small
//! per-thread cache (a router runs on one thread). The AEAD-GCM profiles
//! already keep their keys in str0m's provider and are passed through, as
//! is everything else.

use std::cell::RefCell;
use std::sync::OnceLock;

use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use str0m::crypto::{
    Aes128CmSha1_80Cipher, CryptoError, Sha1HmacProvider, SrtpProvider, SupportedAeadAes128Gcm,
    SupportedAeadAes256Gcm, SupportedAes128CmSha1_80,
};

/// The SRTP provider of every router's transports.
#[derive(Debug)]
struct Srtp {
    fallback: &'static dyn SrtpProvider,
}

/// The one provider instance (str0m wants a `&'static`).
pub(crate) fn provider() -> &'static dyn SrtpProvider {
    static PROVIDER: OnceLock<Srtp> = OnceLock::new();
    PROVIDER.get_or_init(|| Srtp {
        fallback: str0m::crypto::from_feature_flags().srtp_provider,
    })
}

impl SrtpProvider for Srtp {
    fn aes_128_cm_sha1_80(&self) -> &'static dyn SupportedAes128CmSha1_80 {
        &AesCm
    }

    fn aead_aes_128_gcm(&self) -> &'static dyn SupportedAeadAes128Gcm {
        self.fallback.aead_aes_128_gcm()
    }

    fn aead_aes_256_gcm(&self) -> &'static dyn SupportedAeadAes256Gcm {
        self.fallback.aead_aes_256_gcm()
    }

    fn srtp_aes_128_ecb_round(&self, key: &[u8], input: &[u8], output: &mut [u8]) {
        // Key derivation, once per session: not worth a cache.
        self.fallback.srtp_aes_128_ecb_round(key, input, output)
    }

    fn srtp_aes_256_ecb_round(&self, key: &[u8], input: &[u8], output: &mut [u8]) {
        self.fallback.srtp_aes_256_ecb_round(key, input, output)
    }
}

#[derive(Debug)]
struct AesCm;

impl SupportedAes128CmSha1_80 for AesCm {
    fn create_cipher(&self, key: [u8; 16], _encrypt: bool) -> Box<dyn Aes128CmSha1_80Cipher> {
        // A 16-byte key is always a valid AES-128 key, and CTR mode always
        // exists: failing here is a broken crypto build, not peer input.
        let key = UnboundCipherKey::new(&AES_128, &key)
            .and_then(EncryptingKey::ctr)
            .expect("AES-128-CTR key");
        Box::new(AesCmCipher { key })
    }
}

/// AES-128 in counter mode with its key schedule built once.
struct AesCmCipher {
    key: EncryptingKey,
}

impl std::fmt::Debug for AesCmCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AesCmCipher").finish_non_exhaustive()
    }
}

impl Aes128CmSha1_80Cipher for AesCmCipher {
    fn encrypt(
        &mut self,
        iv: &[u8; 16],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), CryptoError> {
        let Some(out) = output.get_mut(..input.len()) else {
            return Err(CryptoError::Other("AES-CM output too short".into()));
        };
        out.copy_from_slice(input);
        self.key
            .less_safe_encrypt(out, EncryptionContext::Iv128(FixedLength::from(*iv)))
            .map(|_| ())
            .map_err(|e| CryptoError::Other(format!("AES-CTR: {e}")))
    }

    fn decrypt(
        &mut self,
        iv: &[u8; 16],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), CryptoError> {
        // Counter mode is its own inverse.
        self.encrypt(iv, input, output)
    }
}

/// Prepared HMAC keys kept per thread. Direct-mapped: a key has one slot,
/// chosen by a hash of its bytes, and a newer key in that slot replaces it.
const HMAC_SLOTS: usize = 512;
/// Longest key kept (SRTP auth keys are 20 bytes, ICE passwords are
/// usually 22 to 32); longer ones are prepared per call as before.
const HMAC_MAX_KEY: usize = 64;

struct HmacSlot {
    len: u8,
    bytes: [u8; HMAC_MAX_KEY],
    key: hmac::Key,
}

thread_local! {
    static HMAC_KEYS: RefCell<Vec<Option<HmacSlot>>> = const { RefCell::new(Vec::new()) };
}

fn slot_of(key: &[u8]) -> usize {
    // FNV-1a: keys are secrets the peer does not choose, so this needs to
    // spread, not to resist attack.
    let mut h: u32 = 0x811c_9dc5;
    for &b in key {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h as usize % HMAC_SLOTS
}

fn sign(key: &hmac::Key, payloads: &[&[u8]]) -> [u8; 20] {
    let mut ctx = hmac::Context::with_key(key);
    for p in payloads {
        ctx.update(p);
    }
    let mut out = [0u8; 20];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// HMAC-SHA1 (SRTP authentication and STUN message integrity) with the
/// key's inner and outer hash state prepared once per key and thread.
#[derive(Debug)]
pub(crate) struct CachedHmac;

impl Sha1HmacProvider for CachedHmac {
    fn sha1_hmac(&self, key: &[u8], payloads: &[&[u8]]) -> [u8; 20] {
        let fresh = || hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
        if key.len() > HMAC_MAX_KEY {
            return sign(&fresh(), payloads);
        }
        HMAC_KEYS.with(|cache| {
            let Ok(mut slots) = cache.try_borrow_mut() else {
                return sign(&fresh(), payloads);
            };
            if slots.is_empty() {
                slots.resize_with(HMAC_SLOTS, || None);
            }
            let slot = &mut slots[slot_of(key)];
            if slot
                .as_ref()
                .is_some_and(|s| &s.bytes[..s.len as usize] != key)
            {
                *slot = None;
            }
            let s = slot.get_or_insert_with(|| {
                let mut bytes = [0u8; HMAC_MAX_KEY];
                bytes[..key.len()].copy_from_slice(key);
                HmacSlot {
                    len: key.len() as u8,
                    bytes,
                    key: fresh(),
                }
            });
            sign(&s.key, payloads)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_mode_matches_str0m_provider_and_inverts() {
        let fallback = str0m::crypto::from_feature_flags().srtp_provider;
        let key = [7u8; 16];
        let iv = [3u8; 16];
        let input: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let mut ours = AesCm.create_cipher(key, true);
        let mut theirs = fallback.aes_128_cm_sha1_80().create_cipher(key, true);
        let (mut a, mut b) = (vec![0u8; 1000], vec![0u8; 1000]);
        // Twice: the kept key schedule must give the same stream again.
        for _ in 0..2 {
            ours.encrypt(&iv, &input, &mut a).unwrap();
            theirs.encrypt(&iv, &input, &mut b).unwrap();
            assert_eq!(a, b);
        }
        let mut back = vec![0u8; 1000];
        ours.decrypt(&iv, &a, &mut back).unwrap();
        assert_eq!(back, input);
        assert!(ours.encrypt(&iv, &input, &mut [0u8; 10]).is_err());
    }

    #[test]
    fn cached_hmac_matches_fresh_keys_across_slot_collisions() {
        let reference = str0m::crypto::from_feature_flags().sha1_hmac_provider;
        let data: &[&[u8]] = &[b"header", b"payload", &[0, 0, 0, 1]];
        // More keys than slots: every slot is reused, and each answer must
        // still be the HMAC under its own key.
        for round in 0..2 {
            for i in 0..(HMAC_SLOTS as u32 + 100) {
                let mut key = [0u8; 20];
                key[..4].copy_from_slice(&i.to_be_bytes());
                key[19] = round;
                assert_eq!(
                    CachedHmac.sha1_hmac(&key, data),
                    reference.sha1_hmac(&key, data)
                );
            }
        }
        let long = [9u8; HMAC_MAX_KEY + 1];
        assert_eq!(
            CachedHmac.sha1_hmac(&long, data),
            reference.sha1_hmac(&long, data)
        );
        assert_eq!(
            CachedHmac.sha1_hmac(b"", data),
            reference.sha1_hmac(b"", data)
        );
    }
}
