//! A DTLS endpoint on OpenSSL with a chosen certificate key and SRTP
//! profile list.
//!
//! str0m 0.25's DTLS library (dimpl 0.9) always offers all three SRTP
//! profiles, AES-256-GCM first, and nothing in str0m restricts the list. As
//! DTLS server, dimpl takes the first profile in the client's list that it
//! supports, so a client offering a single profile decides what the router
//! uses. `benches/forward.rs` gives its str0m clients this provider to
//! measure the router with each profile.
//!
//! dimpl also handles only ECDSA certificates; this peer can carry an
//! RSA-2048 certificate, as GStreamer's `webrtcbin`, older libwebrtc builds
//! and SIP gateways do (`tests/dtls_rsa_peer.rs`, `benches/setup.rs`).
//!
//! A test peer: an unanswered handshake flight is sent again after 1 s,
//! 2 s, 4 s, ... of the caller's clock (OpenSSL's own timer reads the
//! system clock, which a virtual-time test does not move), and the peer's
//! certificate is accepted here
//! because str0m checks its fingerprint against the SDP itself (`PeerCert`).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::srtp::SrtpProfileId;
use openssl::ssl::{ErrorCode, Ssl, SslContext, SslMethod, SslOptions, SslStream, SslVerifyMode};
use openssl::x509::{X509NameBuilder, X509};
use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, KeyingMaterial,
    ProtocolVersion, SrtpProfile,
};
use str0m::crypto::CryptoError;

/// The key of the peer's self-signed certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKey {
    /// ECDSA P-256, as browsers use.
    EcdsaP256,
    /// RSA 2048, as GStreamer's `webrtcbin` uses by default.
    Rsa2048,
}

/// A DTLS provider whose sessions offer `profiles` (in that order) and
/// present a certificate with a `key` key.
#[derive(Debug)]
pub struct OpensslDtls {
    pub profiles: Vec<SrtpProfile>,
    pub key: PeerKey,
    /// The SRTP profile each connected session negotiated.
    pub negotiated: Arc<Mutex<Vec<SrtpProfile>>>,
}

impl OpensslDtls {
    /// An ECDSA peer offering only `profile`.
    pub fn single(profile: SrtpProfile) -> OpensslDtls {
        OpensslDtls {
            profiles: vec![profile],
            key: PeerKey::EcdsaP256,
            negotiated: Arc::default(),
        }
    }

    /// A peer with a `key` certificate offering every SRTP profile,
    /// AES-GCM first, as browsers and GStreamer do.
    pub fn all_profiles(key: PeerKey) -> OpensslDtls {
        OpensslDtls {
            profiles: vec![
                SrtpProfile::AEAD_AES_256_GCM,
                SrtpProfile::AEAD_AES_128_GCM,
                SrtpProfile::AES128_CM_SHA1_80,
            ],
            key,
            negotiated: Arc::default(),
        }
    }
}

fn openssl_name(profile: SrtpProfile) -> &'static str {
    match profile {
        SrtpProfile::AES128_CM_SHA1_80 => "SRTP_AES128_CM_SHA1_80",
        SrtpProfile::AEAD_AES_128_GCM => "SRTP_AEAD_AES_128_GCM",
        _ => "SRTP_AEAD_AES_256_GCM",
    }
}

fn from_openssl(id: SrtpProfileId) -> Option<SrtpProfile> {
    match id {
        SrtpProfileId::SRTP_AES128_CM_SHA1_80 => Some(SrtpProfile::AES128_CM_SHA1_80),
        SrtpProfileId::SRTP_AEAD_AES_128_GCM => Some(SrtpProfile::AEAD_AES_128_GCM),
        SrtpProfileId::SRTP_AEAD_AES_256_GCM => Some(SrtpProfile::AEAD_AES_256_GCM),
        _ => None,
    }
}

fn other(e: impl std::fmt::Display) -> CryptoError {
    CryptoError::Other(format!("openssl: {e}"))
}

/// A self-signed certificate with a `kind` key, as WebRTC endpoints use.
fn self_signed(kind: PeerKey) -> Result<DtlsCert, openssl::error::ErrorStack> {
    let key = match kind {
        PeerKey::EcdsaP256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
            PKey::from_ec_key(EcKey::generate(&group)?)?
        }
        PeerKey::Rsa2048 => PKey::from_rsa(Rsa::generate(2048)?)?,
    };
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, "bench")?;
    let name = name.build();
    let mut x = X509::builder()?;
    x.set_version(2)?;
    let serial = BigNum::from_u32(1)?.to_asn1_integer()?;
    x.set_serial_number(&serial)?;
    x.set_subject_name(&name)?;
    x.set_issuer_name(&name)?;
    x.set_pubkey(&key)?;
    x.set_not_before(&*Asn1Time::days_from_now(0)?)?;
    x.set_not_after(&*Asn1Time::days_from_now(30)?)?;
    x.sign(&key, MessageDigest::sha256())?;
    Ok(DtlsCert {
        certificate: x.build().to_der()?,
        private_key: key.private_key_to_pkcs8()?,
    })
}

impl DtlsProvider for OpensslDtls {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        // An RSA key takes tens of milliseconds to make: one per process
        // and kind is enough for tests and benches.
        static ECDSA: OnceLock<DtlsCert> = OnceLock::new();
        static RSA: OnceLock<DtlsCert> = OnceLock::new();
        let slot = match self.key {
            PeerKey::EcdsaP256 => &ECDSA,
            PeerKey::Rsa2048 => &RSA,
        };
        Some(
            slot.get_or_init(|| self_signed(self.key).expect("self-signed certificate"))
                .clone(),
        )
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        _version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let mut ctx = SslContext::builder(SslMethod::dtls()).map_err(other)?;
        let x509 = X509::from_der(&cert.certificate).map_err(other)?;
        let key = PKey::private_key_from_pkcs8(&cert.private_key).map_err(other)?;
        ctx.set_certificate(&x509).map_err(other)?;
        ctx.set_private_key(&key).map_err(other)?;
        let profiles: Vec<&str> = self.profiles.iter().map(|p| openssl_name(*p)).collect();
        ctx.set_tlsext_use_srtp(&profiles.join(":"))
            .map_err(other)?;
        ctx.set_verify_callback(SslVerifyMode::PEER, |_, _| true);
        ctx.set_options(SslOptions::NO_QUERY_MTU);
        let mut ssl = Ssl::new(&ctx.build()).map_err(other)?;
        ssl.set_mtu(mtu.unwrap_or(1150) as u32).map_err(other)?;
        let stream = SslStream::new(ssl, Wire::default()).map_err(other)?;
        Ok(Box::new(Session {
            stream,
            active: None,
            state: State::Handshaking,
            events: VecDeque::new(),
            now,
            negotiated: self.negotiated.clone(),
            flight: Vec::new(),
            retransmit: None,
        }))
    }
}

/// The datagrams between OpenSSL and str0m, one record batch per entry.
#[derive(Default)]
struct Wire {
    incoming: VecDeque<Vec<u8>>,
    outgoing: VecDeque<Vec<u8>>,
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(d) = self.incoming.pop_front() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let n = d.len().min(buf.len());
        buf[..n].copy_from_slice(&d[..n]);
        Ok(n)
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.push_back(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, PartialEq)]
enum State {
    Handshaking,
    Connected,
    Closed,
}

enum Event {
    PeerCert(Vec<u8>),
    Keying(KeyingMaterial, SrtpProfile),
    Connected,
    Data(Vec<u8>),
    CloseNotify,
}

struct Session {
    stream: SslStream<Wire>,
    active: Option<bool>,
    state: State,
    events: VecDeque<Event>,
    /// The latest time str0m gave us (the idle timeout is relative to it).
    now: Instant,
    negotiated: Arc<Mutex<Vec<SrtpProfile>>>,
    /// The last handshake flight sent, for retransmission.
    flight: Vec<Vec<u8>>,
    /// When to send it again, and the interval after that.
    retransmit: Option<(Instant, Duration)>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state)
            .finish()
    }
}

fn failed() -> DtlsImplError {
    DtlsImplError::ConnectionClosed
}

impl Session {
    /// [`Session::step`], keeping a new handshake flight for retransmission.
    fn drive(&mut self) -> Result<(), DtlsImplError> {
        let before = self.stream.get_ref().outgoing.len();
        let result = self.step();
        let out = &self.stream.get_ref().outgoing;
        if self.state != State::Handshaking {
            self.flight.clear();
            self.retransmit = None;
        } else if out.len() > before {
            self.flight = out.iter().skip(before).cloned().collect();
            let first = Duration::from_secs(1);
            self.retransmit = Some((self.now + first, first));
        }
        result
    }

    /// Advance the handshake, or read application data once connected.
    fn step(&mut self) -> Result<(), DtlsImplError> {
        if self.active.is_none() || self.state == State::Closed {
            return Ok(());
        }
        if self.state == State::Handshaking {
            // SSL_connect / SSL_accept start the handshake and continue it.
            let step = if self.active == Some(true) {
                self.stream.connect()
            } else {
                self.stream.accept()
            };
            match step {
                Ok(()) => self.connected()?,
                Err(e) if e.code() == ErrorCode::WANT_READ => return Ok(()),
                Err(e) => {
                    self.state = State::Closed;
                    eprintln!("openssl DTLS peer: handshake failed: {e}");
                    return Err(failed());
                }
            }
        }
        let mut buf = vec![0; 2048];
        loop {
            match self.stream.ssl_read(&mut buf) {
                Ok(n) => self.events.push_back(Event::Data(buf[..n].to_vec())),
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    self.state = State::Closed;
                    self.events.push_back(Event::CloseNotify);
                    return Ok(());
                }
                Err(_) => return Ok(()),
            }
        }
    }

    fn connected(&mut self) -> Result<(), DtlsImplError> {
        self.state = State::Connected;
        let ssl = self.stream.ssl();
        let cert = ssl.peer_certificate().ok_or_else(failed)?;
        let profile = ssl
            .selected_srtp_profile()
            .and_then(|p| from_openssl(p.id()))
            .ok_or_else(failed)?;
        self.negotiated.lock().unwrap().push(profile);
        let mut material = vec![0; profile.keying_material_len()];
        ssl.export_keying_material(&mut material, "EXTRACTOR-dtls_srtp", None)
            .map_err(|_| failed())?;
        self.events
            .push_back(Event::PeerCert(cert.to_der().map_err(|_| failed())?));
        self.events
            .push_back(Event::Keying(KeyingMaterial::new(&material), profile));
        self.events.push_back(Event::Connected);
        Ok(())
    }
}

impl DtlsInstance for Session {
    fn set_active(&mut self, active: bool) {
        self.active = Some(active);
        if active {
            // The client speaks first: produce its ClientHello now.
            let _ = self.drive();
        }
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        // str0m may hand over an empty datagram; to OpenSSL a zero-length
        // read would mean end of stream.
        if packet.is_empty() {
            return Ok(());
        }
        self.stream.get_mut().incoming.push_back(packet.to_vec());
        self.drive()
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        if let Some(d) = self.stream.get_mut().outgoing.pop_front() {
            if d.len() > buf.len() {
                let needed = d.len();
                self.stream.get_mut().outgoing.push_front(d);
                return DtlsOutput::BufferTooSmall { needed };
            }
            buf[..d.len()].copy_from_slice(&d);
            return DtlsOutput::Packet(&buf[..d.len()]);
        }
        match self.events.pop_front() {
            Some(Event::PeerCert(der)) => {
                buf[..der.len()].copy_from_slice(&der);
                DtlsOutput::PeerCert(&buf[..der.len()])
            }
            Some(Event::Keying(m, p)) => DtlsOutput::KeyingMaterial(m, p),
            Some(Event::Connected) => DtlsOutput::Connected,
            Some(Event::Data(d)) => {
                buf[..d.len()].copy_from_slice(&d);
                DtlsOutput::ApplicationData(&buf[..d.len()])
            }
            Some(Event::CloseNotify) => DtlsOutput::CloseNotify,
            None => match self.retransmit {
                Some((at, _)) => DtlsOutput::Timeout(at),
                None => DtlsOutput::Timeout(self.now + Duration::from_secs(1)),
            },
        }
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.now = now;
        if let Some((at, interval)) = self.retransmit {
            if now >= at {
                let flight = self.flight.clone();
                self.stream.get_mut().outgoing.extend(flight);
                let next = (interval * 2).min(Duration::from_secs(60));
                self.retransmit = Some((now + next, next));
            }
        }
        Ok(())
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        if self.state != State::Connected {
            return Ok(0);
        }
        self.stream.ssl_write(data).map_err(|_| failed())
    }

    fn is_active(&self) -> bool {
        self.active == Some(true)
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        (self.state == State::Connected).then_some(ProtocolVersion::DTLS1_2)
    }

    fn is_closing(&self) -> bool {
        false
    }

    fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        if self.state == State::Connected {
            let _ = self.stream.shutdown();
        }
        self.state = State::Closed;
        Ok(())
    }
}
