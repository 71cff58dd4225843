//! DTLS sessions built from one prepared configuration.
//!
//! str0m's aws-lc-rs provider builds a fresh `dimpl::Config` for every peer,
//! and `Config::build` self-tests the crypto provider each time: a key
//! exchange per group and an ECDSA signature check per curve. That was
//! about 70 % of the CPU a router spent setting up one transport
//! (`docs/benchmarks.md`). The configuration depends only on the MTU and
//! holds no per-session state (no keys, no randomness), so this provider
//! builds it once per MTU and hands every session the same `Arc`.
//!
//! Everything else (certificate generation, the DTLS state machine, the
//! SRTP keying) is dimpl's, exactly as str0m's default provider uses it.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
};
use str0m::crypto::CryptoError;

/// Distinct MTUs whose configuration is kept. A host uses one MTU; the cap
/// only bounds the cache if one were to use many (beyond it, sessions get
/// a configuration of their own, as with str0m's default provider).
const MAX_CONFIGS: usize = 4;

/// Prepared configurations by MTU (`None`: dimpl's default).
static CONFIGS: Mutex<Vec<(Option<usize>, Arc<dimpl::Config>)>> = Mutex::new(Vec::new());

/// The DTLS provider of every router's transports.
#[derive(Debug)]
pub(crate) struct CachedDtls {
    /// str0m's default provider, for certificate generation.
    pub fallback: &'static dyn DtlsProvider,
}

/// Build dimpl's configuration the way str0m's default provider does.
fn build_config(mtu: Option<usize>) -> Result<Arc<dimpl::Config>, CryptoError> {
    // ICE has verified the peer's address before DTLS starts, so a server
    // cookie round trip adds nothing.
    let mut builder = dimpl::Config::builder().use_server_cookie(false);
    if let Some(mtu) = mtu {
        builder = builder.mtu(mtu);
    }
    builder
        .build()
        .map(Arc::new)
        .map_err(|e| CryptoError::Other(format!("DTLS configuration: {e}")))
}

fn config_for(mtu: Option<usize>) -> Result<Arc<dimpl::Config>, CryptoError> {
    // A poisoned lock only means another thread panicked mid-push; the
    // vector itself is always consistent.
    let mut configs = CONFIGS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, config)) = configs.iter().find(|(m, _)| *m == mtu) {
        return Ok(config.clone());
    }
    let config = build_config(mtu)?;
    if configs.len() < MAX_CONFIGS {
        configs.push((mtu, config.clone()));
    }
    Ok(config)
}

impl DtlsProvider for CachedDtls {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        self.fallback.generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let config = config_for(mtu)?;
        let cert = dimpl::DtlsCertificate {
            certificate: cert.certificate.clone(),
            private_key: cert.private_key.clone(),
        };
        let dtls = match version {
            DtlsVersion::Dtls12 => dimpl::Dtls::new_12(config, cert, now),
            DtlsVersion::Dtls13 => dimpl::Dtls::new_13(config, cert, now),
            DtlsVersion::Auto => dimpl::Dtls::new_auto(config, cert, now),
            other => {
                return Err(CryptoError::Other(format!(
                    "unsupported DTLS version: {other}"
                )))
            }
        };
        Ok(Box::new(Session { dtls, idle: None }))
    }
}

/// One DTLS session; str0m drives it through [`DtlsInstance`].
///
/// str0m polls DTLS on every `poll_output`, so on a connected transport
/// dimpl's poll ran once per forwarded packet only to say "nothing, wake me
/// at t" (about 3 % of the forwarding path). dimpl is sans-IO: once a poll
/// cycle has ended in a timeout, it has nothing more to say until it is fed
/// a packet, a timeout, data to send or a command. So the session remembers
/// that timeout and answers with it until one of those calls.
struct Session {
    dtls: dimpl::Dtls,
    /// The timeout that ended the last poll cycle, while no call since
    /// could have given dimpl something to output.
    idle: Option<Instant>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl DtlsInstance for Session {
    fn set_active(&mut self, active: bool) {
        self.idle = None;
        self.dtls.set_active(active)
    }
    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.idle = None;
        self.dtls.handle_packet(packet)
    }
    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        if let Some(at) = self.idle {
            return DtlsOutput::Timeout(at);
        }
        let out = self.dtls.poll_output(buf);
        if let DtlsOutput::Timeout(at) = out {
            self.idle = Some(at);
        }
        out
    }
    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.idle = None;
        self.dtls.handle_timeout(now)
    }
    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.idle = None;
        self.dtls.send_application_data(data)
    }
    fn is_active(&self) -> bool {
        self.dtls.is_active()
    }
    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.dtls.protocol_version()
    }
    fn is_closing(&self) -> bool {
        self.dtls.is_closing()
    }
    fn is_closed(&self) -> bool {
        self.dtls.is_closed()
    }
    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.idle = None;
        self.dtls.close()
    }
}

/// The one provider instance (str0m wants a `&'static`).
pub(crate) fn provider() -> &'static dyn DtlsProvider {
    static PROVIDER: OnceLock<CachedDtls> = OnceLock::new();
    PROVIDER.get_or_init(|| CachedDtls {
        fallback: str0m::crypto::from_feature_flags().dtls_provider,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_configuration_per_mtu() {
        let a = config_for(Some(1234)).unwrap();
        let b = config_for(Some(1234)).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = config_for(Some(1100)).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.mtu(), 1100);
    }
}
