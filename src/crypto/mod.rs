//! Crypto tuning: the provider every transport's str0m runs with.
//!
//! str0m takes its DTLS, SRTP and HMAC implementations from a
//! `CryptoProvider`. This wing builds the one a router uses: DTLS through
//! OpenSSL (RSA and ECDSA peers; feature `openssl-dtls`, on by default) or
//! dimpl with one prepared configuration ([`dtls`]), and SRTP ciphers that
//! keep their key schedules ([`srtp`]; measured in `docs/benchmarks.md`).
//! Process-wide state lives here and only here: the prepared DTLS
//! configurations and the per-thread cipher cache. It knows nothing about
//! sessions.

#[cfg(not(feature = "openssl-dtls"))]
mod dtls;
pub(crate) mod keys;
#[cfg(feature = "openssl-dtls")]
mod openssl_dtls;
mod srtp;
pub(crate) mod srtp_tx;

use std::sync::Arc;

use str0m::config::{CryptoProvider, DtlsCert};

/// Shared, expensive-to-make material for new transports: the crypto
/// provider and one DTLS certificate (generating a certificate is most of
/// the CPU cost of a new peer). Every [`Router::new`](crate::Router::new)
/// makes its own; only the fuzzing host shares one across routers.
#[derive(Clone)]
pub(crate) struct TransportFactory {
    pub crypto: Arc<CryptoProvider>,
    pub cert: DtlsCert,
}

/// The crypto provider a router gives its transports: str0m's aws-lc-rs
/// provider with DTLS through OpenSSL (peers with RSA or ECDSA
/// certificates; feature `openssl-dtls`, on by default; without it dimpl
/// with one prepared configuration, ECDSA peers only) and SRTP ciphers that
/// keep their key schedules (see `docs/benchmarks.md`). A host that runs
/// The test kit's str0m peers (test clients, the load generator) get the
/// same provider through `testkit_hooks::crypto_provider`.
pub(crate) fn crypto_provider() -> CryptoProvider {
    let mut provider = str0m::crypto::from_feature_flags();
    #[cfg(feature = "openssl-dtls")]
    {
        provider.dtls_provider = openssl_dtls::provider();
    }
    #[cfg(not(feature = "openssl-dtls"))]
    {
        provider.dtls_provider = dtls::provider();
    }
    provider.srtp_provider = srtp::provider();
    provider.sha1_hmac_provider = &srtp::CachedHmac;
    provider
}

impl TransportFactory {
    pub(crate) fn new() -> Self {
        let provider = crypto_provider();
        // A provider that cannot make a certificate is a build
        // misconfiguration, not peer input.
        let cert = provider
            .dtls_provider
            .generate_certificate()
            .expect("crypto provider generates a DTLS certificate");
        TransportFactory {
            crypto: Arc::new(provider),
            cert,
        }
    }
}
