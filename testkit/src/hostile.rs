//! Hostile datagrams: random bytes, truncated and bit-flipped RTP/RTCP,
//! STUN with unknown or forged credentials, DTLS garbage.

use rand::rngs::StdRng;
use rand::Rng;

/// A STUN binding request with `username` and a random (wrong) integrity.
pub fn stun_request(rng: &mut StdRng, username: &str) -> Vec<u8> {
    let mut attrs = Vec::new();
    let u = username.as_bytes();
    attrs.extend_from_slice(&0x0006u16.to_be_bytes());
    attrs.extend_from_slice(&(u.len() as u16).to_be_bytes());
    attrs.extend_from_slice(u);
    while attrs.len() % 4 != 0 {
        attrs.push(0);
    }
    // MESSAGE-INTEGRITY with random bytes.
    attrs.extend_from_slice(&0x0008u16.to_be_bytes());
    attrs.extend_from_slice(&20u16.to_be_bytes());
    for _ in 0..20 {
        attrs.push(rng.random());
    }
    let mut m = Vec::new();
    m.extend_from_slice(&0x0001u16.to_be_bytes());
    m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    m.extend_from_slice(&0x2112_a442u32.to_be_bytes());
    for _ in 0..12 {
        m.push(rng.random());
    }
    m.extend_from_slice(&attrs);
    m
}

/// One hostile datagram. `real` is a sample of genuine datagrams to mutate.
pub fn garbage(rng: &mut StdRng, real: &[Vec<u8>], known_ufrag: &str) -> Vec<u8> {
    match rng.random_range(0..8) {
        0 => {
            let n = rng.random_range(0..1500);
            (0..n).map(|_| rng.random()).collect()
        }
        1 | 2 if !real.is_empty() => {
            // Truncated copy of a real datagram.
            let r = &real[rng.random_range(0..real.len())];
            r[..rng.random_range(0..r.len().max(1))].to_vec()
        }
        3 if !real.is_empty() => {
            // Bit-flipped (or replayed, when no bit flips) real datagram.
            let mut r = real[rng.random_range(0..real.len())].clone();
            for _ in 0..rng.random_range(0..4) {
                let i = rng.random_range(0..r.len());
                r[i] ^= 1 << rng.random_range(0..8);
            }
            r
        }
        4 => stun_request(rng, "nobody:attacker"),
        5 => stun_request(rng, &format!("{known_ufrag}:attacker")),
        6 => {
            // DTLS record header with garbage.
            let mut d = vec![22, 0xfe, 0xfd];
            let n = rng.random_range(0..300);
            d.extend((0..n).map(|_| rng.random::<u8>()));
            d
        }
        _ => {
            // RTP/RTCP-looking header with random rest.
            let mut d = vec![0x80, rng.random()];
            let n = rng.random_range(0..200);
            d.extend((0..n).map(|_| rng.random::<u8>()));
            d
        }
    }
}
