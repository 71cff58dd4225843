//! The router's side of pipes across hosts (`crate::pipe::remote`):
//! creating one, sending its messages as sealed datagrams, taking the
//! other end's datagrams in, and sending control messages again until
//! they are acknowledged.

use std::net::SocketAddr;
use std::time::Instant;

use tracing::{debug, warn};

use super::timers::Timer;
use super::Router;
use crate::error::RouterError;
use crate::io::{Output, Transmit};
use crate::pipe::remote::{Dropped, Remote, RemotePipeOptions};
use crate::pipe::seal::OpenError;
use crate::pipe::{Pipe, PipeMessage};
use crate::{CloseReason, PipeId};

impl Router {
    /// Create this router's end of a pipe to a router on another host, at
    /// the host's time `now`. Like [`create_pipe`](Self::create_pipe), but
    /// its messages leave as [`Output::Transmit`] datagrams from
    /// `options.local` to `options.remote`, sealed with AES-256-GCM under
    /// `options.key`, and the datagrams that come back from `remote` to
    /// `local` (first byte [`PIPE_DATAGRAM_BYTE`](crate::pipe::PIPE_DATAGRAM_BYTE))
    /// are fed as ordinary [`Input::receive`](crate::Input::receive): the
    /// router finds the pipe by that address pair, opens, checks and
    /// decodes them. Control messages are numbered and sent again until
    /// acknowledged; an end that has sent nothing for 2 s sends a
    /// heartbeat. A pipe whose control messages go unanswered for about
    /// ten seconds, or that hears nothing from the other end for 15 s,
    /// fails ([`Event::PipeClosed`](crate::Event::PipeClosed) with
    /// [`CloseReason::Failed`]).
    ///
    /// The other host creates the other end with the same key, the
    /// addresses swapped and the other [`PipeRole`](crate::pipe::PipeRole).
    /// The key must come from the operating system's CSPRNG, be fresh for
    /// every pipe, and travel only over the hosts' authenticated, encrypted
    /// control channel.
    ///
    /// Fails past [`Limits::max_pipes`](crate::Limits), and for an address
    /// pair another remote pipe of this router already uses.
    pub fn create_remote_pipe(
        &mut self,
        now: Instant,
        options: RemotePipeOptions,
    ) -> Result<PipeId, RouterError> {
        let route = (options.remote, options.local);
        if self.hub.demux.pipe(route).is_some() {
            return Err(RouterError::InvalidOptions(
                "another remote pipe uses this address pair".into(),
            ));
        }
        let id = self.create_pipe(now)?;
        if let Some(x) = self.pipes.get_mut(&id) {
            let r = Remote::new(&options, self.now);
            self.hub.timers.set(Timer::Pipe(id), r.poll_timeout());
            x.remote = Some(Box::new(r));
        }
        self.hub.demux.add_pipe(route, id);
        debug!(pipe = %id, remote = %options.remote, "remote pipe created");
        Ok(id)
    }

    /// Send `message` through a remote pipe as sealed datagrams. Returns
    /// `false` if `pipe` is not a remote pipe.
    pub(super) fn remote_pipe_out(&mut self, pipe: PipeId, message: &PipeMessage) -> bool {
        let now = self.now;
        let Some(r) = self.pipes.get_mut(&pipe).and_then(|x| x.remote.as_mut()) else {
            return false;
        };
        let (from, to) = (r.local, r.remote);
        match r.send(now, message) {
            Ok(datagrams) => {
                if datagrams.is_empty() {
                    self.stats.pipe_oversized += 1;
                }
                let next = r.poll_timeout();
                self.hub.timers.set(Timer::Pipe(pipe), next);
                for d in datagrams {
                    self.hub
                        .out
                        .push(Output::Transmit(Transmit::new(from, to, d)));
                }
            }
            Err(()) => {
                warn!(%pipe, "remote pipe failed: too many unacknowledged control messages");
                self.close_pipe(pipe, CloseReason::Failed);
            }
        }
        true
    }

    /// A pipe datagram received from `route.0` on `route.1`.
    pub(super) fn pipe_datagram(
        &mut self,
        now: Instant,
        route: (SocketAddr, SocketAddr),
        data: &[u8],
    ) {
        let limits = &self.config.limits;
        let Some(pipe) = self.hub.demux.pipe(route) else {
            // Like any datagram from a source nothing here knows.
            self.stats.dropped_unknown_source += 1;
            return;
        };
        self.stats.pipe_datagrams_in += 1;
        let Some(r) = self.pipes.get_mut(&pipe).and_then(|x| x.remote.as_mut()) else {
            self.stats.pipe_datagrams_malformed += 1;
            return;
        };
        let (from, to) = (r.local, r.remote);
        let received = r.receive(now, data, limits);
        // Even a frame that failed half-way may have taken acknowledgements.
        let next = r.poll_timeout();
        self.hub.timers.set(Timer::Pipe(pipe), next);
        let opened = match received {
            Ok(o) => o,
            Err(e) => {
                let counter = match e {
                    Dropped::Open(OpenError::Forged) => &mut self.stats.pipe_datagrams_forged,
                    Dropped::Open(OpenError::Replayed) => &mut self.stats.pipe_datagrams_replayed,
                    _ => &mut self.stats.pipe_datagrams_malformed,
                };
                *counter += 1;
                return;
            }
        };
        if let Some(ack) = opened.reply {
            self.hub
                .out
                .push(Output::Transmit(Transmit::new(from, to, ack)));
        }
        for m in opened.messages {
            self.pipe_input(now, pipe, m);
        }
    }

    /// Control messages of a remote pipe are due to be sent again.
    pub(super) fn pipe_timeout(&mut self, pipe: PipeId, now: Instant) {
        let Some(r) = self.pipes.get_mut(&pipe).and_then(|x| x.remote.as_mut()) else {
            return;
        };
        let (from, to) = (r.local, r.remote);
        match r.handle_timeout(now) {
            Ok(datagrams) => {
                let next = r.poll_timeout();
                self.hub.timers.set(Timer::Pipe(pipe), next);
                for d in datagrams {
                    self.stats.pipe_control_resent += 1;
                    self.hub
                        .out
                        .push(Output::Transmit(Transmit::new(from, to, d)));
                }
            }
            Err(()) => {
                warn!(%pipe, "remote pipe failed: control messages not acknowledged, or the other end silent");
                self.close_pipe(pipe, CloseReason::Failed);
            }
        }
    }

    /// A remote pipe end is closing (already removed from the table):
    /// forget its route and timer, and tell the other end unless it
    /// closed first (the goodbye is sent three times, not again).
    pub(super) fn remote_pipe_closed(&mut self, pipe: PipeId, x: &mut Pipe, tell: bool) {
        let Some(r) = x.remote.as_mut() else {
            return;
        };
        self.hub.demux.remove_pipe((r.remote, r.local), pipe);
        self.hub.timers.set(Timer::Pipe(pipe), None);
        if tell {
            let (from, to) = (r.local, r.remote);
            for d in r.farewell(&PipeMessage::PipeClosed) {
                self.hub
                    .out
                    .push(Output::Transmit(Transmit::new(from, to, d)));
            }
        }
    }
}
