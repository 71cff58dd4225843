//! The estimator in a closed loop with a simulated bottleneck: a sender
//! paces 1,200-byte packets at the estimate, a link of some capacity
//! queues them (20 ms on the wire after the queue), and every 100 ms the
//! receiver reports what arrived.

use super::*;

const PACKET: usize = 1200;
const PROPAGATION_US: i64 = 20_000;
const FEEDBACK_US: i64 = 100_000;

struct Run {
    est: DelayBased,
    t0: Instant,
    /// Simulated time, µs.
    now_us: i64,
    next_send_us: i64,
    /// When the bottleneck's queue empties, µs.
    busy_until_us: i64,
    next_feedback_us: i64,
    in_flight: Vec<Sample>,
    /// The largest queueing delay seen, µs.
    max_queue_us: i64,
    /// A receiver starved of CPU: it reads the socket only at these
    /// instants (µs, rising), and stamps what waited with the read's time.
    reads_us: Option<Vec<i64>>,
    last_stamp_us: i64,
}

impl Run {
    fn new(initial_bps: u64) -> Self {
        Run {
            est: DelayBased::new(initial_bps),
            t0: Instant::now(),
            now_us: 0,
            next_send_us: 0,
            busy_until_us: 0,
            next_feedback_us: FEEDBACK_US,
            in_flight: Vec::new(),
            max_queue_us: 0,
            reads_us: None,
            last_stamp_us: 0,
        }
    }

    /// When the receiver stamps a packet that reached it at `us` (in
    /// order): at once, or at its next read, a microsecond after the
    /// packet read before it.
    fn stamp(&mut self, us: i64) -> i64 {
        let Some(reads) = &self.reads_us else {
            return us;
        };
        let i = reads.partition_point(|r| *r < us);
        let read = reads.get(i).copied().unwrap_or(us);
        self.last_stamp_us = read.max(self.last_stamp_us + 1);
        self.last_stamp_us
    }

    fn at(&self, us: i64) -> Instant {
        self.t0 + Duration::from_micros(us as u64)
    }

    /// Run for `secs` over a link of `capacity_bps`.
    fn run(&mut self, secs: f64, capacity_bps: f64) {
        let end = self.now_us + (secs * 1e6) as i64;
        while self.now_us < end {
            if self.next_send_us <= self.next_feedback_us {
                self.now_us = self.next_send_us;
                let start = self.now_us.max(self.busy_until_us);
                self.max_queue_us = self.max_queue_us.max(start - self.now_us);
                let tx = (PACKET as f64 * 8.0 / capacity_bps * 1e6) as i64;
                self.busy_until_us = start + tx;
                let arrived_us = self.stamp(self.busy_until_us + PROPAGATION_US);
                self.in_flight.push(Sample {
                    sent: self.at(self.now_us),
                    arrived_us,
                    size: PACKET,
                });
                let gap = PACKET as f64 * 8.0 / self.est.estimate_bps() as f64 * 1e6;
                self.next_send_us = self.now_us + gap as i64;
            } else {
                self.now_us = self.next_feedback_us;
                self.next_feedback_us += FEEDBACK_US;
                let (arrived, later): (Vec<Sample>, Vec<Sample>) = self
                    .in_flight
                    .iter()
                    .partition(|s| s.arrived_us <= self.now_us);
                self.in_flight = later;
                let now = self.at(self.now_us);
                self.est.on_feedback(&arrived, now);
            }
        }
    }
}

#[test]
fn grows_to_a_link_without_queueing_and_settles_near_it() {
    let mut r = Run::new(300_000);
    r.run(30.0, 2_000_000.0);
    let bps = r.est.estimate_bps();
    assert!(
        (1_400_000..=2_400_000).contains(&bps),
        "after 30 s on a 2 Mbit/s link: {bps} bit/s"
    );
    // Having found the link, it keeps the queue short.
    r.max_queue_us = 0;
    r.run(20.0, 2_000_000.0);
    let bps = r.est.estimate_bps();
    assert!(
        (1_400_000..=2_400_000).contains(&bps),
        "after 50 s: {bps} bit/s"
    );
    assert!(
        r.max_queue_us < 400_000,
        "queueing delay up to {} ms",
        r.max_queue_us / 1000
    );
}

#[test]
fn a_capacity_drop_is_followed_within_seconds() {
    let mut r = Run::new(300_000);
    r.run(30.0, 2_000_000.0);
    assert!(r.est.estimate_bps() > 1_200_000);
    r.run(3.0, 500_000.0);
    let bps = r.est.estimate_bps();
    assert!(
        bps < 700_000,
        "3 s after the link fell to 500 kbit/s: {bps} bit/s"
    );
    // The queue the drop built (about a second of it) drains: two
    // seconds later no packet waits 100 ms.
    r.run(2.0, 500_000.0);
    r.max_queue_us = 0;
    r.run(1.0, 500_000.0);
    assert!(
        r.max_queue_us < 100_000,
        "queueing delay 5 s after the drop: {} ms",
        r.max_queue_us / 1000
    );
    // And it lives with the smaller link without starving.
    r.run(20.0, 500_000.0);
    let bps = r.est.estimate_bps();
    assert!(
        (300_000..=750_000).contains(&bps),
        "20 s later: {bps} bit/s"
    );
}

#[test]
fn no_queue_no_overuse() {
    // A link far faster than anything sent: the delay never grows, so
    // the estimate only rises (8 % a second, capped by what arrives).
    let mut r = Run::new(500_000);
    let mut last = r.est.estimate_bps();
    for _ in 0..20 {
        r.run(1.0, 1e9);
        let bps = r.est.estimate_bps();
        assert!(bps >= last, "{bps} after {last}");
        assert_ne!(r.est.usage(), Usage::Overuse);
        last = bps;
    }
    assert!(r.est.last_cut_bps.is_none(), "no overuse without a queue");
    assert!(last > 1_500_000, "20 s of 8 %/s growth from 500k: {last}");
}

#[test]
fn slope_of_a_line() {
    let pts: VecDeque<(f64, f64)> = (0..20).map(|i| (i as f64, 3.0 * i as f64 + 1.0)).collect();
    assert!((slope(&pts).unwrap() - 3.0).abs() < 1e-9);
    let flat: VecDeque<(f64, f64)> = (0..20).map(|_| (5.0, 1.0)).collect();
    assert_eq!(slope(&flat), None);
}

#[test]
fn one_queue_does_not_cut_an_estimate_already_under_what_arrives() {
    // The sender sends 2.4 Mbit/s, more than the 1 Mbit/s estimate (the
    // allocator keeps media that flows without loss); the link carries 2:
    // a queue grows. GCC's cut is to 85 % of what arrived (1.7 Mbit/s),
    // never up: the first cut leaves the estimate where it was, where a
    // cut from the lower of the two would take it to 0.85 Mbit/s. (Overuse
    // again within a second, the queue still growing, cuts from the lower.)
    let t0 = Instant::now();
    let mut est = DelayBased::new(1_000_000);
    let gap_us = (PACKET as f64 * 8.0 / 2_400_000.0 * 1e6) as i64;
    let tx_us = (PACKET as f64 * 8.0 / 2_000_000.0 * 1e6) as i64;
    let mut batch = Vec::new();
    let mut at_first_cut = None;
    // Half a second at the link's rate (no queue, and what arrived is
    // known), then faster.
    let (mut sent_us, mut free_us) = (0i64, 0i64);
    for i in 0..400i64 {
        let start = sent_us.max(free_us);
        free_us = start + tx_us;
        batch.push(Sample {
            sent: t0 + Duration::from_micros(sent_us as u64),
            arrived_us: free_us + PROPAGATION_US,
            size: PACKET,
        });
        sent_us += if i < 105 { tx_us } else { gap_us };
        if batch.len() == 5 {
            let now = t0 + Duration::from_micros((free_us + PROPAGATION_US) as u64);
            est.on_feedback(&batch, now);
            batch.clear();
            if est.last_cut_at.is_some() {
                at_first_cut = Some(est.estimate_bps());
                break;
            }
        }
    }
    let bps = at_first_cut.expect("the growing queue is overuse");
    assert!(bps >= 990_000, "cut below its own value: {bps}");
}

#[test]
fn a_receiver_starved_of_cpu_is_not_a_queue() {
    // The receiver reads its socket at irregular instants 1 to 40 ms
    // apart (a browser on a loaded machine), so packets that reached it
    // evenly are stamped in bursts. No queue builds on the 3 Mbit/s link,
    // so the estimate must not be cut for the bursts (GCC merges packets
    // that arrive together, ahead of their send spacing, into one group).
    let mut r = Run::new(1_000_000);
    let mut seed = 0x2545_f491u32;
    let mut at = 0i64;
    let mut reads = Vec::new();
    while at < 40_000_000 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        at += 1_000 + i64::from(seed % 40) * 1_000;
        reads.push(at);
    }
    r.reads_us = Some(reads);
    r.run(20.0, 3_000_000.0);
    let bps = r.est.estimate_bps();
    assert!(bps >= 1_500_000, "after 20 s: {bps} bit/s");
}
