//! Heap held by the router per connected subscriber transport.
//!
//! A counting global allocator tracks the process's live heap. The
//! deterministic harness connects one publisher (audio + VP8), then K
//! subscribers, each a transport with an audio and a video consumer,
//! connected through ICE and DTLS to its own str0m client. The clients run
//! in this process too, so before each reading every client (and its
//! links) is dropped: what remains is the router's. The router's transports
//! stay open (virtual time does not advance past their liveness timeout).
//!
//! Two readings, each per subscriber:
//! * **idle**: the publisher's producers are paused from before the
//!   subscribers join, so no media reaches the subscribers: ICE, DTLS,
//!   SRTP contexts, str0m's streams, consumers and the router's maps;
//! * **after media**: the same with the producers forwarding for 4 s
//!   (about 2 Mbit/s of VP8 plus Opus), so str0m's per-stream send history
//!   (RTX cache, at most `Limits::rtx_cache_video` packets for 3 s) holds
//!   what a busy subscriber holds.
//!
//! `cargo bench --bench memory` uses K = 200; `cargo test --all-targets`
//! runs it once with K = 5 and checks the readings are positive.
//! `MEMORY_NO_BWE=1` runs the router without bandwidth estimation: str0m's
//! send-side estimator keeps a bounded history of sent packets (its
//! transport-wide feedback register, up to 1,000 entries, filled by its
//! start-up probes even while no media flows).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use manifold_sfu::RouterConfig;

use manifold_testkit::{LinkConfig, Sim};

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`; the counter is
// only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: `ptr` came from this allocator with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// The router's heap per subscriber (bytes) with no media and after 4 s of
/// media, for `k` subscribers.
fn measure(k: usize) -> (isize, isize) {
    let mut config = RouterConfig::default();
    config.seed = Some(7);
    if std::env::var_os("MEMORY_NO_BWE").is_some() {
        config.initial_bandwidth_bps = None;
    }
    let mut sim = Sim::with_config(config);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, true, true);
    sim.run_for(Duration::from_secs(2));
    for p in &producers {
        sim.router.producer(*p).unwrap().pause(sim.now);
    }
    sim.drain_router();
    sim.run_for(Duration::from_millis(200));
    let base = live();
    let mut transports = Vec::new();
    for i in 0..k {
        let peer = sim.add_peer(
            &format!("sub{i}"),
            LinkConfig::default(),
            LinkConfig::default(),
        );
        transports.push(sim.subscribe(peer, &producers));
        sim.run_for(Duration::from_millis(100));
    }
    sim.run_for(Duration::from_secs(1));
    for t in &transports {
        let consumers = sim.router.transport(*t).unwrap().consumers();
        assert_eq!(consumers.len(), 2, "subscriber has audio and video");
    }
    // Connected with idle consumers. Keep the publisher's client, drop the
    // subscribers' (and their links) so only the router's state remains.
    let with_clients = live();
    sim.drop_peers_from(1);
    let idle = live() - base;
    eprintln!(
        "memory: {k} subscribers: {} KiB live with their clients, {} KiB without",
        (with_clients - base) / 1024,
        idle / 1024
    );

    // Media for 4 s with subscribers whose clients are gone: the router
    // keeps sending (and caching for RTX) until the liveness timeout.
    for p in &producers {
        sim.router.producer(*p).unwrap().resume(sim.now);
    }
    sim.drain_router();
    sim.run_for(Duration::from_secs(4));
    let busy = live() - base;
    let sent: u64 = sim.router.stats().rtp_out;
    eprintln!(
        "memory: after 4 s of media ({sent} RTP packets written to consumers): {} KiB",
        busy / 1024
    );
    assert!(sent > 0, "media reached the consumers");
    for t in &transports {
        assert!(sim.router.transport(*t).is_some(), "transport still open");
    }
    (idle / k as isize, busy / k as isize)
}

fn main() {
    let k = if support::measuring() { 200 } else { 5 };
    let (idle, busy) = measure(k);
    assert!(idle > 0 && busy >= idle, "idle {idle} B, busy {busy} B");
    println!(
        "memory: router heap per connected subscriber transport (audio + video consumer): \
         idle {:.1} KiB, after media {:.1} KiB (K = {k})",
        idle as f64 / 1024.0,
        busy as f64 / 1024.0
    );
}
