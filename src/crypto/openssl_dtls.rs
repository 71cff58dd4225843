//! DTLS through OpenSSL: peers with RSA or ECDSA certificates.
//!
//! str0m 0.25's DTLS library, dimpl 0.9, speaks only ECDSA: as DTLS server
//! its CertificateRequest lists `ecdsa_sign` and ECDSA signature algorithms
//! only, so a client holding an RSA certificate (GStreamer's `webrtcbin`,
//! older libwebrtc builds, SIP gateways) finds no signature algorithm it
//! may use and aborts the handshake; as DTLS client it offers only
//! ECDHE_ECDSA cipher suites, which an RSA server cannot pick. The
//! supported lists are constants inside dimpl, not part of its crypto
//! provider, so no provider can add RSA. str0m's own OpenSSL backend
//! (`str0m-openssl` 0.7) is not published. This provider therefore runs the
//! DTLS 1.2 handshake in OpenSSL (see `docs/benchmarks.md` for what it
//! costs) and hands str0m the peer certificate and the SRTP keying
//! material; SRTP itself stays on aws-lc-rs (`srtp.rs`).
//!
//! * One `SslContext` per certificate (the router has one), built once.
//! * SRTP profiles in server preference order, AES-256-GCM, AES-128-GCM,
//!   then AES-128-CM-SHA1-80: as DTLS server the router picks the first of
//!   those the client offers, whatever the client's order.
//! * The peer's certificate chain is not validated here (WebRTC
//!   certificates are self-signed); str0m checks the certificate against
//!   the SDP fingerprint from [`DtlsOutput::PeerCert`].
//! * Time stays the host's: OpenSSL's own retransmission timer reads the
//!   system clock, so the session keeps its own. A flight that got no
//!   answer is sent again at the host's `handle_timeout`, after 1 s, then
//!   2, 4, ... up to 60 s (RFC 6347, 4.2.4.1). The peer ignores a copy it
//!   already has.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use openssl::pkey::PKey;
use openssl::srtp::SrtpProfileId;
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslMethod, SslOptions, SslSessionCacheMode, SslStream,
    SslVerifyMode, SslVersion,
};
use openssl::x509::X509;
use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, KeyingMaterial,
    ProtocolVersion, SrtpProfile,
};
use str0m::crypto::CryptoError;

use super::keys::DtlsKeys;
use super::srtp_tx::SrtpSuite;

/// dimpl's default, used when str0m names no MTU.
const DEFAULT_MTU: usize = 1150;

/// AEAD suites first; the RSA ones matter when the router is the DTLS
/// client of an RSA server. CBC suites last, for old gateways.
const CIPHERS: &str = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA";

/// Server preference order (OpenSSL picks by the server's list).
const SRTP_PROFILES: &str = "SRTP_AEAD_AES_256_GCM:SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";

const FIRST_RETRANSMIT: Duration = Duration::from_secs(1);
const MAX_RETRANSMIT: Duration = Duration::from_secs(60);

/// When a connected or closed session wants to be woken: never, in effect.
const IDLE: Duration = Duration::from_secs(3600);
/// TLS record content type of handshake messages.
const HANDSHAKE_RECORD: u8 = 22;
/// Least time between two resends of the final flight.
const RESEND_INTERVAL: Duration = Duration::from_millis(500);
/// Most resends of the final flight for one session.
const MAX_FINAL_RESENDS: u8 = 8;

/// Distinct certificates whose context is kept (a router has one).
const MAX_CONTEXTS: usize = 4;

static CONTEXTS: Mutex<Vec<(Vec<u8>, SslContext)>> = Mutex::new(Vec::new());

/// The DTLS provider of every router's transports.
#[derive(Debug)]
pub(crate) struct OpensslDtls {
    /// str0m's default provider, for certificate generation (ECDSA P-256,
    /// which every WebRTC peer accepts).
    pub fallback: &'static dyn DtlsProvider,
}

fn other(e: impl std::fmt::Display) -> CryptoError {
    CryptoError::Other(format!("OpenSSL DTLS: {e}"))
}

fn build_context(cert: &DtlsCert) -> Result<SslContext, CryptoError> {
    let mut ctx = SslContext::builder(SslMethod::dtls()).map_err(other)?;
    ctx.set_min_proto_version(Some(SslVersion::DTLS1_2))
        .map_err(other)?;
    ctx.set_cipher_list(CIPHERS).map_err(other)?;
    ctx.set_groups_list("X25519:P-256:P-384").map_err(other)?;
    ctx.set_tlsext_use_srtp(SRTP_PROFILES).map_err(other)?;
    let x509 = X509::from_der(&cert.certificate).map_err(other)?;
    let key = PKey::private_key_from_der(&cert.private_key).map_err(other)?;
    ctx.set_certificate(&x509).map_err(other)?;
    ctx.set_private_key(&key).map_err(other)?;
    ctx.check_private_key().map_err(other)?;
    // Ask for the client's certificate and require one; its chain is not
    // validated here (self-signed), str0m checks its fingerprint.
    ctx.set_verify_callback(
        SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
        |_, _| true,
    );
    ctx.set_session_cache_mode(SslSessionCacheMode::OFF);
    ctx.set_options(
        SslOptions::NO_QUERY_MTU
            | SslOptions::CIPHER_SERVER_PREFERENCE
            | SslOptions::NO_TICKET
            | SslOptions::NO_RENEGOTIATION,
    );
    Ok(ctx.build())
}

fn context_for(cert: &DtlsCert) -> Result<SslContext, CryptoError> {
    // A poisoned lock only means another thread panicked mid-push.
    let mut contexts = CONTEXTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, ctx)) = contexts.iter().find(|(c, _)| *c == cert.certificate) {
        return Ok(ctx.clone());
    }
    let ctx = build_context(cert)?;
    if contexts.len() < MAX_CONTEXTS {
        contexts.push((cert.certificate.clone(), ctx.clone()));
    }
    Ok(ctx)
}

impl DtlsProvider for OpensslDtls {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        self.fallback.generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        _version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        // OpenSSL 3 speaks DTLS 1.2 at most: that is what every version
        // setting gets (str0m's default is 1.2 as well).
        let ctx = context_for(cert)?;
        let mut ssl = Ssl::new(&ctx).map_err(other)?;
        ssl.set_mtu(mtu.unwrap_or(DEFAULT_MTU) as u32)
            .map_err(other)?;
        let stream = SslStream::new(ssl, Wire::default()).map_err(other)?;
        Ok(Box::new(Session {
            stream,
            active: None,
            state: State::Handshaking,
            events: VecDeque::new(),
            now,
            flight: Vec::new(),
            retransmit_at: None,
            interval: FIRST_RETRANSMIT,
            final_flight: Vec::new(),
            final_resends: 0,
            last_resend: None,
            quiet: false,
            keys: super::keys::take_armed(),
        }))
    }
}

/// The datagrams between OpenSSL and str0m.
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
        // A datagram longer than OpenSSL's buffer is cut, as a socket would.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// One DTLS session; str0m drives it through [`DtlsInstance`].
struct Session {
    stream: SslStream<Wire>,
    /// Client (`true`) or server; `None` until str0m knows.
    active: Option<bool>,
    state: State,
    events: VecDeque<Event>,
    /// The latest time the host gave.
    now: Instant,
    /// The last flight sent while handshaking, for retransmission.
    flight: Vec<Vec<u8>>,
    retransmit_at: Option<Instant>,
    interval: Duration,
    /// The flight that completed the handshake on our side (a server's
    /// ChangeCipherSpec and Finished), kept to answer a peer that missed it.
    final_flight: Vec<Vec<u8>>,
    final_resends: u8,
    last_resend: Option<Instant>,
    /// The wire's outgoing queue is known to be empty: nothing touched the
    /// stream since `poll_output` found it so. str0m polls DTLS at every
    /// poll of the transport, several times per forwarded packet once
    /// connected; looking into the queue means two calls into OpenSSL
    /// (`SSL_get_rbio`, `BIO_get_data`), about 5 % of a loaded server's
    /// CPU before this flag (`docs/benchmarks.md`).
    quiet: bool,
    /// The transport's copy of the keys, filled on connecting
    /// (`crypto/keys.rs`).
    keys: Option<super::keys::KeySlot>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("active", &self.active)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn failed() -> DtlsImplError {
    DtlsImplError::ConnectionClosed
}

fn from_openssl(id: SrtpProfileId) -> Option<SrtpProfile> {
    match id {
        SrtpProfileId::SRTP_AES128_CM_SHA1_80 => Some(SrtpProfile::AES128_CM_SHA1_80),
        SrtpProfileId::SRTP_AEAD_AES_128_GCM => Some(SrtpProfile::AEAD_AES_128_GCM),
        SrtpProfileId::SRTP_AEAD_AES_256_GCM => Some(SrtpProfile::AEAD_AES_256_GCM),
        _ => None,
    }
}

impl Session {
    /// Advance the handshake, or read application data once connected.
    fn drive(&mut self) -> Result<(), DtlsImplError> {
        let Some(active) = self.active else {
            return Ok(());
        };
        let sent_before = self.stream.get_ref().outgoing.len();
        let was_handshaking = self.state == State::Handshaking;
        let result = self.step(active);
        if was_handshaking && self.state == State::Connected {
            let out = &self.stream.get_ref().outgoing;
            self.final_flight = out.iter().skip(sent_before).cloned().collect();
        }
        if self.state == State::Handshaking {
            let out = &self.stream.get_ref().outgoing;
            if out.len() > sent_before {
                // A new flight (or OpenSSL's own retransmission): keep it
                // and restart the timer.
                self.flight = out.iter().skip(sent_before).cloned().collect();
                self.interval = FIRST_RETRANSMIT;
                self.retransmit_at = Some(self.now + self.interval);
            }
        } else {
            self.flight = Vec::new();
            self.retransmit_at = None;
        }
        result
    }

    fn step(&mut self, active: bool) -> Result<(), DtlsImplError> {
        if self.state == State::Closed {
            return Ok(());
        }
        if self.state == State::Handshaking {
            let step = if active {
                self.stream.connect()
            } else {
                self.stream.accept()
            };
            match step {
                Ok(()) => self.connected()?,
                Err(e) if e.code() == ErrorCode::WANT_READ => return Ok(()),
                Err(_) => {
                    self.state = State::Closed;
                    return Err(failed());
                }
            }
        }
        let mut buf = [0; 4096];
        loop {
            match self.stream.ssl_read(&mut buf) {
                Ok(n) => self.events.push_back(Event::Data(buf[..n].to_vec())),
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    self.state = State::Closed;
                    self.events.push_back(Event::CloseNotify);
                    return Ok(());
                }
                Err(e) if e.code() == ErrorCode::WANT_READ => return Ok(()),
                Err(_) => {
                    self.state = State::Closed;
                    return Err(failed());
                }
            }
        }
    }

    fn connected(&mut self) -> Result<(), DtlsImplError> {
        self.state = State::Connected;
        let ssl = self.stream.ssl();
        let cert = ssl.peer_certificate().ok_or_else(failed)?;
        // A peer that did not negotiate an SRTP profile cannot carry media.
        let profile = ssl
            .selected_srtp_profile()
            .and_then(|p| from_openssl(p.id()))
            .ok_or_else(failed)?;
        let mut material = vec![0; profile.keying_material_len()];
        ssl.export_keying_material(&mut material, "EXTRACTOR-dtls_srtp", None)
            .map_err(|_| failed())?;
        let der = cert.to_der().map_err(|_| failed())?;
        if let Some(slot) = self.keys.take() {
            let suite = match profile {
                SrtpProfile::AES128_CM_SHA1_80 => Some(SrtpSuite::Aes128CmSha1_80),
                SrtpProfile::AEAD_AES_128_GCM => Some(SrtpSuite::AeadAes128Gcm),
                SrtpProfile::AEAD_AES_256_GCM => Some(SrtpSuite::AeadAes256Gcm),
                _ => None,
            };
            if let Some(suite) = suite {
                let dtls_client = self.active == Some(true);
                let _ = slot.set(DtlsKeys::new(suite, &material, dtls_client));
            }
        }
        self.events.push_back(Event::PeerCert(der));
        self.events
            .push_back(Event::Keying(KeyingMaterial::new(&material), profile));
        self.events.push_back(Event::Connected);
        Ok(())
    }
}

impl DtlsInstance for Session {
    fn set_active(&mut self, active: bool) {
        if self.active.is_some() {
            return;
        }
        self.active = Some(active);
        self.quiet = false;
        if active {
            // The client speaks first: its ClientHello goes out now. A
            // failure here shows again at the next packet.
            let _ = self.drive();
        }
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        // To OpenSSL a zero-length read would mean end of stream.
        if packet.is_empty() || self.state == State::Closed {
            return Ok(());
        }
        self.quiet = false;
        self.stream.get_mut().incoming.push_back(packet.to_vec());
        let sent_before = self.stream.get_ref().outgoing.len();
        self.drive()?;
        // RFC 6347 4.2.4: the side that sent the handshake's last flight
        // keeps it, and a peer that repeats its own flight after we finished
        // did not get it. Resend it for such a handshake record (rate
        // limited), whatever OpenSSL's own wall-clock timer thinks.
        if self.state == State::Connected
            && packet[0] == HANDSHAKE_RECORD
            && !self.final_flight.is_empty()
            && self.stream.get_ref().outgoing.len() == sent_before
            && self.final_resends < MAX_FINAL_RESENDS
            && self
                .last_resend
                .is_none_or(|at| self.now >= at + RESEND_INTERVAL)
        {
            self.last_resend = Some(self.now);
            self.final_resends += 1;
            let flight = self.final_flight.clone();
            self.stream.get_mut().outgoing.extend(flight);
        }
        Ok(())
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        if self.quiet && self.events.is_empty() {
            return DtlsOutput::Timeout(self.retransmit_at.unwrap_or(self.now + IDLE));
        }
        let outgoing = &mut self.stream.get_mut().outgoing;
        if let Some(d) = outgoing.pop_front() {
            if d.len() > buf.len() {
                let needed = d.len();
                outgoing.push_front(d);
                return DtlsOutput::BufferTooSmall { needed };
            }
            buf[..d.len()].copy_from_slice(&d);
            return DtlsOutput::Packet(&buf[..d.len()]);
        }
        self.quiet = true;
        let bytes = |buf: &'a mut [u8], d: &[u8]| -> Result<&'a [u8], usize> {
            if d.len() > buf.len() {
                return Err(d.len());
            }
            buf[..d.len()].copy_from_slice(d);
            Ok(&buf[..d.len()])
        };
        match self.events.pop_front() {
            Some(Event::PeerCert(der)) => match bytes(buf, &der) {
                Ok(b) => DtlsOutput::PeerCert(b),
                Err(needed) => {
                    self.events.push_front(Event::PeerCert(der));
                    DtlsOutput::BufferTooSmall { needed }
                }
            },
            Some(Event::Keying(m, p)) => DtlsOutput::KeyingMaterial(m, p),
            Some(Event::Connected) => DtlsOutput::Connected,
            Some(Event::Data(d)) => match bytes(buf, &d) {
                Ok(b) => DtlsOutput::ApplicationData(b),
                Err(needed) => {
                    self.events.push_front(Event::Data(d));
                    DtlsOutput::BufferTooSmall { needed }
                }
            },
            Some(Event::CloseNotify) => DtlsOutput::CloseNotify,
            None => DtlsOutput::Timeout(self.retransmit_at.unwrap_or(self.now + IDLE)),
        }
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.now = self.now.max(now);
        if self.state != State::Handshaking {
            return Ok(());
        }
        if let Some(at) = self.retransmit_at {
            if now >= at {
                self.quiet = false;
                let out = &mut self.stream.get_mut().outgoing;
                out.extend(self.flight.iter().cloned());
                self.interval = (self.interval * 2).min(MAX_RETRANSMIT);
                self.retransmit_at = Some(now + self.interval);
            }
        }
        Ok(())
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        if self.state != State::Connected || data.is_empty() {
            return Ok(0);
        }
        self.quiet = false;
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
        self.state == State::Closed && (self.quiet || self.stream.get_ref().outgoing.is_empty())
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.quiet = false;
        if self.state == State::Connected {
            // Queues close_notify; the peer's answer is not awaited.
            let _ = self.stream.shutdown();
        }
        self.state = State::Closed;
        self.flight = Vec::new();
        self.retransmit_at = None;
        Ok(())
    }
}

/// The one provider instance (str0m wants a `&'static`).
pub(crate) fn provider() -> &'static dyn DtlsProvider {
    static PROVIDER: OnceLock<OpensslDtls> = OnceLock::new();
    PROVIDER.get_or_init(|| OpensslDtls {
        fallback: str0m::crypto::from_feature_flags().dtls_provider,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(active: bool, now: Instant) -> Box<dyn DtlsInstance> {
        // One certificate for every session here: the context cache holds
        // a few certificates, and `one_context_per_certificate` needs room.
        static CERT: OnceLock<DtlsCert> = OnceLock::new();
        let p = provider();
        let cert = CERT.get_or_init(|| p.generate_certificate().unwrap());
        let mut s = p.new_dtls(cert, now, DtlsVersion::Dtls12, None).unwrap();
        s.set_active(active);
        s
    }

    /// Datagrams out of `s`, and whether it reported keying material.
    fn drain(s: &mut dyn DtlsInstance) -> (Vec<Vec<u8>>, Option<SrtpProfile>) {
        let mut buf = vec![0; 2048];
        let (mut out, mut profile) = (Vec::new(), None);
        loop {
            match s.poll_output(&mut buf) {
                DtlsOutput::Packet(p) => out.push(p.to_vec()),
                DtlsOutput::KeyingMaterial(_, p) => profile = Some(p),
                DtlsOutput::Timeout(_) => return (out, profile),
                _ => {}
            }
        }
    }

    #[test]
    fn one_context_per_certificate() {
        let cert = provider().generate_certificate().unwrap();
        context_for(&cert).unwrap();
        context_for(&cert).unwrap();
        let contexts = CONTEXTS.lock().unwrap();
        let kept = contexts.iter().filter(|(c, _)| *c == cert.certificate);
        assert_eq!(kept.count(), 1);
    }

    /// Two sessions connect with AES-256-GCM although the client's whole
    /// first flight is lost: it is sent again at the host's timeout (the
    /// clock here is virtual), not OpenSSL's.
    #[test]
    fn lost_flight_is_resent_on_the_hosts_clock() {
        let mut now = Instant::now();
        let mut client = session(true, now);
        let mut server = session(false, now);
        let (lost, _) = drain(&mut *client);
        assert!(!lost.is_empty(), "ClientHello");
        client
            .handle_timeout(now + Duration::from_millis(500))
            .unwrap();
        assert!(drain(&mut *client).0.is_empty(), "nothing before 1 s");
        now += FIRST_RETRANSMIT;
        client.handle_timeout(now).unwrap();
        let (mut to_server, _) = drain(&mut *client);
        assert_eq!(to_server, lost, "the same flight again");
        let mut profiles = (None, None);
        for _ in 0..10 {
            for d in to_server.drain(..) {
                server.handle_packet(&d).unwrap();
            }
            let (to_client, p) = drain(&mut *server);
            profiles.1 = profiles.1.or(p);
            for d in &to_client {
                client.handle_packet(d).unwrap();
            }
            let (out, p) = drain(&mut *client);
            profiles.0 = profiles.0.or(p);
            to_server = out;
        }
        let gcm = Some(SrtpProfile::AEAD_AES_256_GCM);
        assert_eq!(profiles, (gcm, gcm));
        assert_eq!(client.protocol_version(), Some(ProtocolVersion::DTLS1_2));
    }

    /// The server's last flight (ChangeCipherSpec, Finished) is lost: the
    /// client repeats its own flight, and the server, already connected,
    /// sends its last flight again, so the client connects too.
    #[test]
    fn lost_final_flight_is_resent_when_the_peer_repeats() {
        let mut now = Instant::now();
        let mut client = session(true, now);
        let mut server = session(false, now);
        let mut to_server = drain(&mut *client).0;
        let mut server_done = false;
        for _ in 0..5 {
            for d in to_server.drain(..) {
                server.handle_packet(&d).unwrap();
            }
            let (to_client, p) = drain(&mut *server);
            if p.is_some() {
                // Connected: its last flight goes nowhere.
                server_done = true;
                break;
            }
            for d in &to_client {
                client.handle_packet(d).unwrap();
            }
            to_server = drain(&mut *client).0;
        }
        assert!(server_done, "server connected");
        assert!(client.protocol_version().is_none(), "client still waiting");
        // The client's timer fires on the host's clock: it repeats its flight.
        now += FIRST_RETRANSMIT;
        client.handle_timeout(now).unwrap();
        let repeated = drain(&mut *client).0;
        assert!(!repeated.is_empty(), "client repeats its flight");
        server.handle_timeout(now).unwrap();
        for d in &repeated {
            server.handle_packet(d).unwrap();
        }
        let resent = drain(&mut *server).0;
        assert!(!resent.is_empty(), "server sends its last flight again");
        let mut profile = None;
        for d in &resent {
            client.handle_packet(d).unwrap();
        }
        profile = profile.or(drain(&mut *client).1);
        assert_eq!(profile, Some(SrtpProfile::AEAD_AES_256_GCM));
        assert_eq!(client.protocol_version(), Some(ProtocolVersion::DTLS1_2));
    }
}
