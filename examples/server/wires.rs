//! The wires between workers: how one worker's router hands pipe messages
//! ([`Output::Pipe`](manifold_sfu::Output::Pipe)) to another worker's
//! router ([`Input::pipe`]), across threads.
//!
//! Every worker has one inbox, a bounded channel of [`INBOX`] messages
//! that every other worker writes into; its loop drains it like the job
//! queue and feeds each message to its router, in order. Each worker keeps
//! the map of its pipe ends to the other end (worker and pipe id), set
//! before the first message can flow (see [`crate::spread`]).
//!
//! Delivery, as the library asks: RTP messages may be lost (the receiving
//! router asks for what a gap skipped, the sender resends from its
//! history); control messages (announce, codec, keyframe request, close)
//! may not. So when a target's inbox is full:
//!
//! * an RTP message is dropped and counted (`manifold_pipe_dropped_total`);
//! * a control message waits in a small per-target backlog, sent first, in
//!   order, as soon as the inbox has room (the loop retries every
//!   [`RETRY`]); while a backlog waits, RTP messages for that target are
//!   dropped too, so nothing overtakes it.
//! * The backlog is capped at [`BACKLOG_CAP`] messages. Past the cap the
//!   target is not draining at all (stuck or gone): this worker closes the
//!   pipe ends that lead there and keeps only their `PipeClosed` in the
//!   backlog, so the other side still learns, later, that they are gone.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use manifold_sfu::{Input, PipeId, PipeMessage, Router};
use tokio::sync::mpsc::{self, error::TrySendError};
use tracing::{error, warn};

/// Messages a worker's inbox holds.
pub const INBOX: usize = 8192;
/// Control messages waiting for one full target, at most.
pub const BACKLOG_CAP: usize = 4096;
/// How soon the loop retries a waiting backlog.
pub const RETRY: Duration = Duration::from_millis(1);

/// One pipe message on its way to a worker: the receiving end's id.
pub struct Carried {
    pub pipe: PipeId,
    pub message: PipeMessage,
}

/// The other end of one of this worker's pipe ends.
#[derive(Clone, Copy, Debug)]
pub struct Far {
    pub worker: usize,
    pub pipe: PipeId,
}

/// Counters of the wires out of one worker.
#[derive(Clone, Copy, Debug, Default)]
pub struct WireStats {
    /// Messages handed to another worker.
    pub carried: u64,
    /// RTP messages dropped: a full inbox, or a waiting backlog.
    pub dropped: u64,
    /// Control messages that had to wait in a backlog.
    pub delayed: u64,
    /// Messages for a pipe end without a known other end (dropped).
    pub stray: u64,
}

/// This worker's ends of the wires.
pub struct Wires {
    /// This worker's index.
    pub index: usize,
    /// Senders into every worker's inbox (this one's too, unused).
    peers: Vec<mpsc::Sender<Carried>>,
    /// Control messages waiting, per target worker.
    backlog: Vec<VecDeque<Carried>>,
    /// This worker's pipe ends → the other end.
    links: HashMap<PipeId, Far>,
    pub stats: WireStats,
}

/// Every worker's inbox, made before the workers start.
pub fn inboxes(n: usize) -> (Vec<mpsc::Sender<Carried>>, Vec<mpsc::Receiver<Carried>>) {
    inboxes_of(n, INBOX)
}

fn inboxes_of(n: usize, size: usize) -> (Vec<mpsc::Sender<Carried>>, Vec<mpsc::Receiver<Carried>>) {
    (0..n).map(|_| mpsc::channel(size)).unzip()
}

impl Wires {
    pub fn new(index: usize, peers: Vec<mpsc::Sender<Carried>>) -> Self {
        let backlog = peers.iter().map(|_| VecDeque::new()).collect();
        Self {
            index,
            peers,
            backlog,
            links: HashMap::new(),
            stats: WireStats::default(),
        }
    }

    /// Remember that this worker's pipe end `ours` leads to `far`.
    pub fn link(&mut self, ours: PipeId, far: Far) {
        self.links.insert(ours, far);
    }

    /// Forget a closed pipe end.
    pub fn unlink(&mut self, ours: PipeId) {
        self.links.remove(&ours);
    }

    /// Carry one [`Output::Pipe`](manifold_sfu::Output::Pipe) of this
    /// worker's router to the other end. Past the backlog cap, closes the
    /// pipe ends to that worker on `router` (see the module doc).
    pub fn carry(&mut self, router: &mut Router, ours: PipeId, message: PipeMessage) {
        let Some(far) = self.links.get(&ours).copied() else {
            self.stats.stray += 1;
            return;
        };
        let media = message.is_media();
        let item = Carried {
            pipe: far.pipe,
            message,
        };
        let waiting = &mut self.backlog[far.worker];
        if !waiting.is_empty() {
            if media {
                self.stats.dropped += 1;
            } else {
                self.stats.delayed += 1;
                waiting.push_back(item);
                if waiting.len() > BACKLOG_CAP {
                    self.give_up(router, far.worker);
                }
            }
            return;
        }
        match self.peers[far.worker].try_send(item) {
            Ok(()) => self.stats.carried += 1,
            Err(TrySendError::Full(item)) if !media => {
                self.stats.delayed += 1;
                self.backlog[far.worker].push_back(item);
            }
            Err(TrySendError::Full(_)) => self.stats.dropped += 1,
            Err(TrySendError::Closed(_)) => self.stats.stray += 1,
        }
    }

    /// Send what waits in the backlogs, in order, as far as the inboxes
    /// take it; true if something still waits.
    pub fn flush(&mut self) -> bool {
        let mut left = false;
        for (w, waiting) in self.backlog.iter_mut().enumerate() {
            while let Some(item) = waiting.pop_front() {
                match self.peers[w].try_send(item) {
                    Ok(()) => self.stats.carried += 1,
                    Err(TrySendError::Full(item)) => {
                        waiting.push_front(item);
                        left = true;
                        break;
                    }
                    Err(TrySendError::Closed(_)) => waiting.clear(),
                }
            }
        }
        left
    }

    /// Worker `target` takes nothing: drop its backlog and close every
    /// pipe end leading there. The router's `PipeClosed` outputs come
    /// next out of it and queue up here again, so the far ends still
    /// learn, once the target drains.
    fn give_up(&mut self, router: &mut Router, target: usize) {
        error!(
            "worker {} does not drain its pipe inbox: closing the pipes from worker {} to it",
            target, self.index
        );
        self.backlog[target].clear();
        let ends: Vec<PipeId> = self
            .links
            .iter()
            .filter(|(_, f)| f.worker == target)
            .map(|(p, _)| *p)
            .collect();
        if ends.is_empty() {
            warn!("worker {target}: no pipe to close");
        }
        for ours in ends {
            if let Some(p) = router.pipe(ours) {
                p.close(Instant::now());
            }
        }
    }
}

/// Feed one carried message to this worker's router.
pub fn feed(router: &mut Router, item: Carried) {
    router.handle_input(Input::pipe(Instant::now(), item.pipe, item.message));
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use manifold_sfu::{Output, PipeMessage, Router, RouterConfig};

    use super::{inboxes_of, Far, Wires};

    /// `n` control messages (`PipeClosed`) of router `r`, each with the
    /// pipe end it came out of.
    fn closes(r: &mut Router, n: usize) -> Vec<(manifold_sfu::PipeId, PipeMessage)> {
        let now = Instant::now();
        let ends: Vec<_> = (0..n).map(|_| r.create_pipe(now).unwrap()).collect();
        for &p in &ends {
            r.pipe(p).unwrap().close(now);
        }
        let mut out = Vec::new();
        loop {
            match r.poll_output() {
                Output::Pipe { pipe, message } => out.push((pipe, message)),
                Output::Timeout(_) => return out,
                _ => {}
            }
        }
    }

    #[test]
    fn control_waits_in_order_when_the_inbox_is_full() {
        let mut router = Router::new(RouterConfig::default(), Instant::now());
        let msgs = closes(&mut router, 3);
        assert_eq!(msgs.len(), 3);
        // Worker 1's inbox holds one message.
        let (peers, mut rx) = inboxes_of(2, 1);
        let mut w = Wires::new(0, peers);
        let far: Vec<_> = msgs
            .iter()
            .enumerate()
            .map(|(i, (ours, _))| {
                let far = Far {
                    worker: 1,
                    pipe: *ours,
                };
                w.link(*ours, far);
                (i, far.pipe)
            })
            .collect();
        for (ours, m) in msgs {
            w.carry(&mut router, ours, m);
        }
        assert_eq!(
            (w.stats.carried, w.stats.delayed, w.stats.dropped),
            (1, 2, 0)
        );
        assert!(w.flush(), "still full: the two wait");
        let inbox = &mut rx[1];
        let mut got = vec![inbox.try_recv().unwrap().pipe];
        assert!(w.flush());
        got.push(inbox.try_recv().unwrap().pipe);
        assert!(!w.flush(), "the last one went");
        got.push(inbox.try_recv().unwrap().pipe);
        let sent: Vec<_> = far.iter().map(|(_, p)| *p).collect();
        assert_eq!(got, sent, "in order");
        assert_eq!(w.stats.carried, 3);
    }

    #[test]
    fn a_message_without_a_link_is_stray() {
        let mut router = Router::new(RouterConfig::default(), Instant::now());
        let (peers, _rx) = inboxes_of(2, 4);
        let mut w = Wires::new(0, peers);
        for (ours, m) in closes(&mut router, 1) {
            w.carry(&mut router, ours, m);
        }
        assert_eq!((w.stats.carried, w.stats.stray), (0, 1));
    }
}
