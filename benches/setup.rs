//! CPU cost of setting up one transport: `create_webrtc_transport`,
//! `accept_offer` (a publisher's audio + video offer, WHIP style) and the
//! full ICE + DTLS handshake until both ends are connected, with a str0m
//! client and no network in between (zero latency, virtual clock).
//!
//! Only the router's calls are timed (create, accept_offer, handle_input,
//! poll_output); the client's work is not. One router serves every
//! iteration, as in production (it caches one DTLS certificate); each
//! transport is closed again outside the timed section.
//!
//! Peers: `transport_connected` is a str0m client (dimpl, ECDSA P-256, as
//! browsers); with `--features bench-openssl` also an OpenSSL client with an
//! RSA-2048 certificate (`rsa_peer`, as GStreamer's `webrtcbin`) and one
//! with an ECDSA P-256 certificate (`ecdsa_openssl_peer`). A peer the
//! router cannot connect to is reported and skipped.
//!
//! `SETUP_PROFILE=<n>` sets up n transports once and prints the router's CPU
//! time, for profilers (`--toggle-collect='*support::timed*'`).

#[cfg(feature = "bench-openssl")]
#[path = "support/openssl_dtls.rs"]
mod openssl_dtls;
mod support;

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use criterion::Criterion;
use manifold_sfu::{Output, Router, RouterConfig};
use str0m::config::CryptoProvider;

use manifold_testkit::Client;
use support::{connect, thread_cpu, CpuTime};

/// Which peer connects.
#[derive(Clone, Copy, Debug)]
enum PeerKind {
    /// A str0m client: dimpl, ECDSA P-256.
    Str0m,
    /// An OpenSSL client with an RSA-2048 certificate.
    #[cfg(feature = "bench-openssl")]
    OpensslRsa,
    /// An OpenSSL client with an ECDSA P-256 certificate.
    #[cfg(feature = "bench-openssl")]
    OpensslEcdsa,
}

impl PeerKind {
    fn crypto(self) -> CryptoProvider {
        #[allow(unused_mut)]
        let mut crypto = str0m::crypto::from_feature_flags();
        #[cfg(feature = "bench-openssl")]
        {
            use openssl_dtls::{OpensslDtls, PeerKey};
            use std::sync::OnceLock;
            static RSA: OnceLock<OpensslDtls> = OnceLock::new();
            static ECDSA: OnceLock<OpensslDtls> = OnceLock::new();
            match self {
                PeerKind::Str0m => {}
                PeerKind::OpensslRsa => {
                    crypto.dtls_provider =
                        RSA.get_or_init(|| OpensslDtls::all_profiles(PeerKey::Rsa2048))
                }
                PeerKind::OpensslEcdsa => {
                    crypto.dtls_provider =
                        ECDSA.get_or_init(|| OpensslDtls::all_profiles(PeerKey::EcdsaP256))
                }
            }
        }
        crypto
    }
}

struct Setup {
    router: Router,
    now: Instant,
    server: SocketAddr,
    clients: u16,
    peer: PeerKind,
}

impl Setup {
    fn new(peer: PeerKind) -> Setup {
        let now = Instant::now();
        Setup {
            router: Router::new(RouterConfig::default(), now),
            now,
            server: "127.0.0.1:40000".parse().unwrap(),
            clients: 0,
            peer,
        }
    }

    /// Connect one more client; returns the router's CPU time for it.
    fn one(&mut self) -> Duration {
        self.clients = self.clients.wrapping_add(1);
        let addr = SocketAddr::from(([10, 0, 0, 1], 1024 + self.clients % 60_000));
        let mut client = Client::with_crypto("client", addr, self.now, self.peer.crypto());
        let mut cpu = Duration::ZERO;
        let t = connect(
            &mut self.router,
            &mut client,
            self.server,
            &mut self.now,
            true,
            true,
            &mut cpu,
            None,
        );
        self.router.transport(t).expect("transport").close(self.now);
        while !matches!(self.router.poll_output(), Output::Timeout(_)) {}
        cpu
    }
}

fn setup(c: &mut Criterion<CpuTime>, name: &str, peer: PeerKind) {
    // The peer's certificate is made once per process, untimed.
    drop(peer.crypto().dtls_provider.generate_certificate());
    let start = thread_cpu();
    let mut s = Setup::new(peer);
    eprintln!(
        "setup: Router::new (generates the DTLS certificate) {:?} CPU",
        thread_cpu() - start
    );
    let first = match catch_unwind(AssertUnwindSafe(|| s.one())) {
        Ok(first) => first,
        Err(_) => {
            eprintln!("setup: {name}: {peer:?} peer did not connect, skipped");
            return;
        }
    };
    eprintln!("setup: {name}: first transport {first:?} CPU");
    let mut g = c.benchmark_group("setup");
    g.bench_function(name, |b| {
        b.iter_custom(|iters| (0..iters).map(|_| s.one()).sum())
    });
    g.finish();
    assert_eq!(s.router.counts().transports, 0);
}

fn main() {
    if let Ok(n) = std::env::var("SETUP_PROFILE") {
        let n: u32 = n.parse().expect("number of transports");
        let mut s = Setup::new(PeerKind::Str0m);
        s.one();
        let total: Duration = (0..n).map(|_| s.one()).sum();
        println!("{n} transports: {total:?} router CPU, {:?} each", total / n);
        return;
    }
    let mut c = support::criterion();
    setup(&mut c, "transport_connected", PeerKind::Str0m);
    #[cfg(feature = "bench-openssl")]
    {
        setup(&mut c, "rsa_peer", PeerKind::OpensslRsa);
        setup(&mut c, "ecdsa_openssl_peer", PeerKind::OpensslEcdsa);
    }
    c.final_summary();
}
