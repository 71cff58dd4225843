//! ICE over TCP for a router loop: the TCP listener next to the UDP socket.
//!
//! The router's loop stays the only owner of the router. Around it, on the
//! loop's own (single-threaded) runtime:
//! * an accept task takes connections and announces each on the loop's
//!   bounded TCP channel ([`TcpIn::Accepted`]), with the sending end of its
//!   write queue;
//! * a reader task per connection forwards what it reads
//!   ([`TcpIn::Data`], any slice of the RFC 4571 stream: the router
//!   deframes) and says when the stream ends ([`TcpIn::Closed`]). The
//!   channel is bounded: a loop that falls behind stops the readers, and
//!   TCP flow control stops the peers;
//! * a writer task per connection writes the router's transmits (already
//!   framed) from a bounded queue of [`WRITE_QUEUE`]. A peer that does not
//!   read fills it: the connection is dropped (counted in
//!   [`TcpStats::slow_readers`]) rather than letting it hold memory or
//!   delay anyone else.
//!
//! Connections are numbered by the accept task (never reused), which is
//! the [`TcpConnId`] the router knows them by. A connection ends by EOF or
//! an error (the reader reports it), by the router
//! ([`manifold_sfu::Event::TcpConnectionClosed`]: over a limit, a bad frame,
//! idle) or as a slow reader; each way the loop drops its write queue and
//! aborts the reader, which closes the socket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use manifold_sfu::{Input, Router, TcpConnId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tracing::{debug, warn};

/// Messages from the TCP tasks waiting for the loop.
pub const IN_QUEUE: usize = 1024;
/// Framed datagrams waiting to be written to one connection; past this
/// the peer is not reading and is dropped.
pub const WRITE_QUEUE: usize = 1024;
/// Bytes per read.
const READ_BUF: usize = 16 * 1024;

/// What the TCP tasks tell the loop.
pub enum TcpIn {
    /// A new connection and the queue its writer drains.
    Accepted {
        conn: TcpConnId,
        peer: SocketAddr,
        local: SocketAddr,
        write: mpsc::Sender<Bytes>,
        reader: AbortHandle,
        writer: AbortHandle,
    },
    /// Bytes read from it.
    Data { conn: TcpConnId, data: Bytes },
    /// The peer closed it, or reading failed.
    Closed { conn: TcpConnId },
}

/// Counters of one worker's TCP listener (in `GET /stats`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TcpStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections that ended (any way).
    pub closed: u64,
    /// Connections dropped because their write queue was full.
    pub slow_readers: u64,
    /// Framed datagrams written to a write queue.
    pub queued: u64,
}

struct Conn {
    peer: SocketAddr,
    local: SocketAddr,
    write: mpsc::Sender<Bytes>,
    reader: AbortHandle,
    writer: AbortHandle,
}

/// The loop's side: open connections by id.
#[derive(Default)]
pub struct TcpConns {
    conns: HashMap<TcpConnId, Conn>,
    pub stats: TcpStats,
}

impl TcpConns {
    /// Apply one message from the TCP tasks to the router.
    pub fn handle(&mut self, router: &mut Router, msg: TcpIn) {
        let now = Instant::now();
        match msg {
            TcpIn::Accepted {
                conn,
                peer,
                local,
                write,
                reader,
                writer,
            } => {
                self.stats.accepted += 1;
                self.conns.insert(
                    conn,
                    Conn {
                        peer,
                        local,
                        write,
                        reader,
                        writer,
                    },
                );
                router.handle_input(Input::tcp_accepted(now, conn, peer, local));
            }
            TcpIn::Data { conn, data } => {
                // Data of a connection already dropped: ignore it.
                if let Some(c) = self.conns.get(&conn) {
                    let (peer, local) = (c.peer, c.local);
                    router.handle_input(Input::tcp_data(now, conn, peer, local, &data));
                }
            }
            TcpIn::Closed { conn } => {
                if self.drop_conn(conn) {
                    router.handle_input(Input::tcp_closed(now, conn));
                }
            }
        }
    }

    /// Queue a framed transmit on `conn`. A full queue drops the
    /// connection; returns whether the router must be told
    /// ([`Input::tcp_closed`]).
    #[must_use]
    pub fn send(&mut self, conn: TcpConnId, data: Bytes) -> bool {
        let Some(c) = self.conns.get(&conn) else {
            return false;
        };
        match c.write.try_send(data) {
            Ok(()) => {
                self.stats.queued += 1;
                false
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.slow_readers += 1;
                debug!("{conn}: peer not reading, dropped");
                self.drop_conn(conn)
            }
            // The writer failed: the reader reports the close.
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// The router dropped `conn`: close it.
    pub fn close(&mut self, conn: TcpConnId) {
        self.drop_conn(conn);
    }

    /// Forget `conn`, closing its socket (both its tasks are aborted, which
    /// drops the two halves). Returns whether it was open.
    fn drop_conn(&mut self, conn: TcpConnId) -> bool {
        let Some(c) = self.conns.remove(&conn) else {
            return false;
        };
        c.reader.abort();
        c.writer.abort();
        self.stats.closed += 1;
        true
    }
}

/// Accept connections on `listener` forever, announcing each on `to_loop`.
/// Call inside the loop's runtime.
pub async fn accept(listener: TcpListener, to_loop: mpsc::Sender<TcpIn>) {
    let local = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return warn!("TCP listener: {e}"),
    };
    let mut next = 0u64;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // E.g. out of file descriptors: wait a little, go on.
                debug!("TCP accept on {local}: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = TcpConnId(next);
        next += 1;
        let (mut rd, mut wr) = stream.into_split();
        let (write, mut queue) = mpsc::channel::<Bytes>(WRITE_QUEUE);
        let tx = to_loop.clone();
        // The reader starts only once the loop knows the connection.
        let (go, ready) = tokio::sync::oneshot::channel::<()>();
        let reader = tokio::spawn(async move {
            if ready.await.is_err() {
                return;
            }
            let mut buf = vec![0u8; READ_BUF];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let data = Bytes::copy_from_slice(&buf[..n]);
                        if tx.send(TcpIn::Data { conn, data }).await.is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = tx.send(TcpIn::Closed { conn }).await;
        });
        let writer = tokio::spawn(async move {
            while let Some(data) = queue.recv().await {
                if wr.write_all(&data).await.is_err() {
                    break;
                }
            }
            let _ = wr.shutdown().await;
        });
        let accepted = TcpIn::Accepted {
            conn,
            peer,
            local,
            write,
            reader: reader.abort_handle(),
            writer: writer.abort_handle(),
        };
        if to_loop.send(accepted).await.is_err() {
            return;
        }
        let _ = go.send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use manifold_sfu::RouterConfig;
    use std::time::Duration;

    /// Accept a connection through [`accept`] and hand it to a [`TcpConns`].
    async fn connected(
        router: &mut Router,
        conns: &mut TcpConns,
    ) -> (tokio::net::TcpStream, mpsc::Receiver<TcpIn>, TcpConnId) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = mpsc::channel(IN_QUEUE);
        tokio::spawn(accept(listener, tx));
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let msg = rx.recv().await.unwrap();
        let TcpIn::Accepted { conn, .. } = &msg else {
            panic!("not an accept");
        };
        let conn = *conn;
        conns.handle(router, msg);
        (client, rx, conn)
    }

    /// A peer that never reads fills its write queue and is dropped
    /// (counted); its socket is closed.
    #[test]
    fn a_slow_reader_is_dropped() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut router = Router::new(RouterConfig::default(), Instant::now());
            let mut conns = TcpConns::default();
            let (mut client, _rx, conn) = connected(&mut router, &mut conns).await;
            let frame = Bytes::from(vec![0u8; 1202]);
            let mut told = false;
            for _ in 0..100_000 {
                if conns.send(conn, frame.clone()) {
                    told = true;
                    break;
                }
                // Let the writer run: the socket buffers fill first.
                tokio::task::yield_now().await;
            }
            assert!(told, "the router must be told the connection is gone");
            assert_eq!(conns.stats.slow_readers, 1);
            assert_eq!(conns.stats.closed, 1);
            assert!(
                !conns.send(conn, frame),
                "a dropped connection takes nothing"
            );
            // The client sees the end of the stream once it reads what was sent.
            let mut buf = vec![0u8; 1 << 16];
            let eof = tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    match client.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            })
            .await;
            assert!(eof.is_ok(), "the socket is closed");
        });
    }

    /// Reads reach the loop in order and end with `Closed` on EOF.
    #[test]
    fn reads_then_closed() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut router = Router::new(RouterConfig::default(), Instant::now());
            let mut conns = TcpConns::default();
            let (mut client, mut rx, conn) = connected(&mut router, &mut conns).await;
            client.write_all(&[0, 3, 1, 2, 3]).await.unwrap();
            client.shutdown().await.unwrap();
            let mut got = Vec::new();
            loop {
                match rx.recv().await.unwrap() {
                    TcpIn::Data { conn: c, data } => {
                        assert_eq!(c, conn);
                        got.extend_from_slice(&data);
                    }
                    TcpIn::Closed { conn: c } => {
                        assert_eq!(c, conn);
                        break;
                    }
                    TcpIn::Accepted { .. } => panic!("a second accept"),
                }
            }
            assert_eq!(got, [0, 3, 1, 2, 3]);
            assert_eq!(router.counts().tcp_connections, 1);
            conns.handle(&mut router, TcpIn::Closed { conn });
            assert_eq!(router.counts().tcp_connections, 0);
            assert_eq!(conns.stats.closed, 1);
        });
    }
}
