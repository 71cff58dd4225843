//! A transport's own copy of its DTLS-SRTP keying material, for the owned
//! send path of forwarded media (issue #19, `docs/owned-send-path.md`).
//!
//! str0m creates a transport's DTLS session inside `RtcConfig::build` and
//! keeps it; the keys it exports go to str0m's SRTP. To get a copy, the
//! transport arms a one-shot slot on its thread just before the build
//! ([`arm`]), the OpenSSL DTLS provider takes it when str0m asks it for the
//! session ([`take_armed`]), and fills it once the handshake has exported
//! the keys. The slot is the only state shared between the two (a
//! write-once cell: str0m requires its DTLS sessions to be `Send`). With
//! dimpl (feature `openssl-dtls` off) the slot stays empty.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use super::srtp_tx::{SrtcpRx, SrtpError, SrtpSuite, SrtpTx};

/// What the DTLS handshake exported, and this end's role in it.
pub(crate) struct DtlsKeys {
    pub suite: SrtpSuite,
    material: Vec<u8>,
    /// This end was the DTLS client.
    pub dtls_client: bool,
}

impl std::fmt::Debug for DtlsKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the material.
        f.debug_struct("DtlsKeys")
            .field("suite", &self.suite)
            .field("dtls_client", &self.dtls_client)
            .finish_non_exhaustive()
    }
}

impl DtlsKeys {
    #[cfg_attr(not(feature = "openssl-dtls"), allow(dead_code))]
    pub(crate) fn new(suite: SrtpSuite, material: &[u8], dtls_client: bool) -> Self {
        DtlsKeys {
            suite,
            material: material.to_vec(),
            dtls_client,
        }
    }

    /// The sending half of the SRTP session these keys make.
    pub(crate) fn sender(&self) -> Result<SrtpTx, SrtpError> {
        SrtpTx::from_keying_material(self.suite, &self.material, self.dtls_client)
    }

    /// The receiving half of the peer's SRTCP these keys make.
    pub(crate) fn rtcp_receiver(&self) -> Result<SrtcpRx, SrtpError> {
        SrtcpRx::from_keying_material(self.suite, &self.material, self.dtls_client)
    }

    /// A reader of the SRTCP this end sends (str0m's own reports), so the
    /// owned send path can correct the sender reports of the streams it
    /// sends before they leave.
    pub(crate) fn own_rtcp_reader(&self) -> Result<SrtcpRx, SrtpError> {
        SrtcpRx::from_keying_material(self.suite, &self.material, !self.dtls_client)
    }
}

/// Filled once, when the DTLS handshake completes.
pub(crate) type KeySlot = Arc<OnceLock<DtlsKeys>>;

thread_local! {
    static ARMED: RefCell<Option<KeySlot>> = const { RefCell::new(None) };
}

/// A new slot, handed to the next DTLS session created on this thread.
pub(crate) fn arm() -> KeySlot {
    let slot = KeySlot::default();
    ARMED.with(|a| *a.borrow_mut() = Some(slot.clone()));
    slot
}

/// Forget an armed slot no session took (with dimpl).
pub(crate) fn disarm() {
    ARMED.with(|a| a.borrow_mut().take());
}

/// The armed slot, for the DTLS session being created.
#[cfg_attr(not(feature = "openssl-dtls"), allow(dead_code))]
pub(crate) fn take_armed() -> Option<KeySlot> {
    ARMED.with(|a| a.borrow_mut().take())
}
