//! One stream's viewers on every worker, through in-process pipes.
//!
//! A WHIP publisher lives on its stream's *owner* worker, picked by a
//! stable hash of the stream name ([`Workers::of`]), as before. A WHEP
//! viewer goes to the *least-loaded* worker ([`Workers::least_loaded`]:
//! the fewest open transports, the owner on a tie). If that is not the
//! owner, the viewer's worker needs the stream's producers: the first such
//! viewer makes a pipe from the owner to its worker (once per stream and
//! worker), the owner sends every producer of the publisher through it,
//! and the viewer consumes the piped producers ([`Event::PipeProducerAdded`])
//! like local ones. Later viewers on that worker reuse the pipe. Pipe
//! messages cross threads through [`crate::wires`].
//!
//! Setting up a pipe takes four short jobs, made by the HTTP handler under
//! one lock (so two viewers never build the same pipe twice):
//!
//! 1. owner: check the stream has a publisher, create its pipe end;
//! 2. viewer's worker: create its end, linked to the owner's, and note the
//!    stream as imported;
//! 3. owner: link its end, send the publisher's producers (their announces
//!    travel at once);
//! 4. viewer's worker: wait (polling, up to [`LINK_WAIT`]) until every
//!    announced producer arrived; then the viewer starts there.
//!
//! Closing: the publisher leaving closes its pipes; each viewer worker's
//! router closes the piped producers and their consumers, and the server
//! closes that worker's viewers of the stream (their tracks end, as for
//! viewers on the owner). The last viewer of a stream on a worker leaving
//! closes that worker's pipe (the owner stops sending there); the next
//! viewer there builds a new one.
//!
//! If a pipe cannot be made (past
//! [`Limits::max_pipes`](manifold_sfu::Limits), 64 pipe ends per router by
//! default, or a worker too busy to answer), the viewer is served on the
//! owner instead.
//!
//! Rooms are spread by [`crate::cluster::rooms`] (each worker is a node of
//! the room, the owner worker its hub).
//!
//! With `--workers 1` every viewer is on the owner and nothing here runs.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use manifold_sfu::{Event, PipeId, ProducerId, TransportId};
use tracing::{debug, info, warn};

use crate::media::Sfu;
use crate::whip::{self, err, ApiError};
use crate::wires::Far;
use crate::App;

/// How long a new pipe may take until its producers arrived.
const LINK_WAIT: Duration = Duration::from_secs(3);
/// How often step 4 asks.
const LINK_POLL: Duration = Duration::from_millis(2);

/// The streams one worker sends to or receives from other workers.
#[derive(Default)]
pub struct Spread {
    /// Streams owned here → this worker's pipe ends sending them.
    exports: HashMap<String, Vec<PipeId>>,
    /// Streams received here through a pipe.
    imports: HashMap<String, Import>,
    /// This worker's pipe ends → their stream.
    by_pipe: HashMap<PipeId, String>,
}

/// A stream received through a pipe.
struct Import {
    pipe: PipeId,
    /// The piped producers, as they arrived.
    producers: Vec<ProducerId>,
    /// How many the owner sent (known after step 3).
    expected: Option<usize>,
    /// The viewers on this worker.
    viewers: Vec<TransportId>,
}

impl Import {
    fn ready(&self) -> bool {
        self.expected.is_some_and(|n| self.producers.len() >= n)
    }
}

/// A WHEP viewer: placed on the least-loaded worker, with a pipe from the
/// stream's owner if needed. Returns (session id, SDP answer).
pub async fn view(
    app: &App,
    stream: String,
    offer: String,
    requested: Instant,
) -> Result<(String, String), ApiError> {
    let owner = app.workers.owner(&stream);
    let w = app.workers.least_loaded(owner);
    if w == owner {
        return on_owner(app, owner, stream, offer, requested).await;
    }
    if let Some(r) = remote_viewer(app, w, &stream, &offer, requested).await? {
        return Ok(r);
    }
    let _one_at_a_time = app.spread_lock.lock().await;
    if let Some(r) = remote_viewer(app, w, &stream, &offer, requested).await? {
        return Ok(r);
    }
    match link(app, owner, w, &stream).await {
        Ok(()) => {}
        Err(e) if e.status() == StatusCode::NOT_FOUND => return Err(e),
        // No pipe (e.g. `Limits::max_pipes` reached): serve on the owner.
        Err(_) => return on_owner(app, owner, stream, offer, requested).await,
    }
    match remote_viewer(app, w, &stream, &offer, requested).await? {
        Some(r) => Ok(r),
        None => on_owner(app, owner, stream, offer, requested).await,
    }
}

/// A viewer on the stream's owner worker.
async fn on_owner(
    app: &App,
    owner: usize,
    stream: String,
    offer: String,
    requested: Instant,
) -> Result<(String, String), ApiError> {
    app.workers.all()[owner]
        .call(move |sfu| whip::start_viewer(sfu, stream, &offer, requested))
        .await?
}

/// Start the viewer on worker `w` if `w` receives the stream already.
async fn remote_viewer(
    app: &App,
    w: usize,
    stream: &str,
    offer: &str,
    requested: Instant,
) -> Result<Option<(String, String)>, ApiError> {
    let (stream, offer) = (stream.to_owned(), offer.to_owned());
    app.workers.all()[w]
        .call(move |sfu| start_remote_viewer(sfu, stream, &offer, requested))
        .await?
}

/// Steps 1 to 4 of the module doc: a pipe from `owner` to `w` for
/// `stream`, with every producer arrived.
async fn link(app: &App, owner: usize, w: usize, stream: &str) -> Result<(), ApiError> {
    let (o_media, w_media) = (&app.workers.all()[owner], &app.workers.all()[w]);
    let s = stream.to_owned();
    let o_end = o_media.call(move |sfu| export_open(sfu, s)).await??;
    let s = stream.to_owned();
    let far = Far {
        worker: owner,
        pipe: o_end,
    };
    let w_end = match w_media.call(move |sfu| import_open(sfu, s, far)).await {
        Ok(Ok(p)) => p,
        failed => {
            let _ = o_media.call(move |sfu| close_pipe(sfu, o_end)).await;
            return Err(match failed {
                Ok(Err(e)) => e,
                _ => crate::media::Busy.into(),
            });
        }
    };
    let s = stream.to_owned();
    let far = Far {
        worker: w,
        pipe: w_end,
    };
    let sent = o_media
        .call(move |sfu| export_start(sfu, &s, o_end, far))
        .await??;
    let until = Instant::now() + LINK_WAIT;
    loop {
        let s = stream.to_owned();
        match w_media.call(move |sfu| import_ready(sfu, &s, sent)).await? {
            Some(true) => break,
            // The pipe closed meanwhile (the publisher left).
            None => return Err(err(StatusCode::NOT_FOUND, "nobody publishes this stream")),
            Some(false) if Instant::now() >= until => {
                warn!("stream {stream}: pipe from worker {owner} to {w} not ready in time");
                let _ = w_media.call(move |sfu| close_pipe(sfu, w_end)).await;
                return Err(err(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server busy, try again",
                ));
            }
            Some(false) => tokio::time::sleep(LINK_POLL).await,
        }
    }
    info!("stream {stream}: piped from worker {owner} to worker {w} ({sent} producer(s))");
    Ok(())
}

/// Step 1, on the owner.
fn export_open(sfu: &mut Sfu, stream: String) -> Result<PipeId, ApiError> {
    if whip::publisher_producers(sfu, &stream).is_none() {
        return Err(err(StatusCode::NOT_FOUND, "nobody publishes this stream"));
    }
    let pipe = sfu.router.create_pipe(Instant::now())?;
    sfu.spread.by_pipe.insert(pipe, stream.clone());
    sfu.spread.exports.entry(stream).or_default().push(pipe);
    Ok(pipe)
}

/// Step 2, on the viewer's worker.
fn import_open(sfu: &mut Sfu, stream: String, far: Far) -> Result<PipeId, ApiError> {
    if let Some(old) = sfu.spread.imports.get(&stream) {
        // A pipe that never got ready (step 4 timed out): replace it.
        let old = old.pipe;
        close_pipe(sfu, old);
    }
    let pipe = sfu.router.create_pipe(Instant::now())?;
    sfu.wires.link(pipe, far);
    sfu.spread.by_pipe.insert(pipe, stream.clone());
    let import = Import {
        pipe,
        producers: Vec::new(),
        expected: None,
        viewers: Vec::new(),
    };
    sfu.spread.imports.insert(stream, import);
    Ok(pipe)
}

/// Step 3, on the owner: how many producers went out.
fn export_start(sfu: &mut Sfu, stream: &str, ours: PipeId, far: Far) -> Result<usize, ApiError> {
    sfu.wires.link(ours, far);
    let Some(producers) = whip::publisher_producers(sfu, stream) else {
        // The publisher left between steps 1 and 3: the close reaches the
        // other end, which forgets the import.
        close_pipe(sfu, ours);
        return Err(err(StatusCode::NOT_FOUND, "nobody publishes this stream"));
    };
    let now = Instant::now();
    let mut sent = 0;
    for p in producers {
        let Some(mut pipe) = sfu.router.pipe(ours) else {
            break;
        };
        match pipe.send_producer(now, p) {
            Ok(()) => sent += 1,
            Err(e) => warn!("stream {stream}: cannot pipe producer {p}: {e}"),
        }
    }
    Ok(sent)
}

/// Step 4, on the viewer's worker: whether all `expected` producers
/// arrived; `None` if the import is gone.
fn import_ready(sfu: &mut Sfu, stream: &str, expected: usize) -> Option<bool> {
    let import = sfu.spread.imports.get_mut(stream)?;
    import.expected = Some(expected);
    Some(import.ready())
}

/// A viewer on a worker that receives the stream through a pipe; `None`
/// if this worker does not (yet).
fn start_remote_viewer(
    sfu: &mut Sfu,
    stream: String,
    offer: &str,
    requested: Instant,
) -> Result<Option<(String, String)>, ApiError> {
    let producers = match sfu.spread.imports.get(&stream) {
        Some(i) if i.ready() => i.producers.clone(),
        _ => return Ok(None),
    };
    match whip::new_viewer(sfu, stream.clone(), offer, requested, &producers) {
        Ok((tid, id, answer)) => {
            if let Some(i) = sfu.spread.imports.get_mut(&stream) {
                i.viewers.push(tid);
            }
            Ok(Some((id, answer)))
        }
        Err(e) => {
            let unused = sfu.spread.imports.get(&stream);
            if let Some(pipe) = unused.filter(|i| i.viewers.is_empty()).map(|i| i.pipe) {
                close_pipe(sfu, pipe);
            }
            Err(e)
        }
    }
}

/// Close this worker's pipe end (its `PipeClosed` event cleans up).
fn close_pipe(sfu: &mut Sfu, pipe: PipeId) {
    if let Some(p) = sfu.router.pipe(pipe) {
        p.close(Instant::now());
    }
}

/// A viewer left: the last one of a stream on a worker that receives it
/// closes the pipe.
pub fn viewer_left(sfu: &mut Sfu, stream: &str, viewer: TransportId) {
    let Some(import) = sfu.spread.imports.get_mut(stream) else {
        return;
    };
    let before = import.viewers.len();
    import.viewers.retain(|v| *v != viewer);
    if before > 0 && import.viewers.is_empty() {
        let pipe = import.pipe;
        sfu.spread.imports.remove(stream);
        debug!(
            "stream {stream}: last viewer on worker {} left",
            sfu.wires.index
        );
        close_pipe(sfu, pipe);
    }
}

/// The publisher of `stream` (owned here) left: close its pipes.
pub fn publisher_left(sfu: &mut Sfu, stream: &str) {
    for pipe in sfu.spread.exports.remove(stream).unwrap_or_default() {
        close_pipe(sfu, pipe);
    }
}

/// A publisher's producer added after its pipes were made goes through
/// them too.
pub fn producer_added(sfu: &mut Sfu, stream: &str, producer: ProducerId) {
    let pipes = sfu.spread.exports.get(stream).cloned().unwrap_or_default();
    for ours in pipes {
        if let Some(mut p) = sfu.router.pipe(ours) {
            if let Err(e) = p.send_producer(Instant::now(), producer) {
                warn!("stream {stream}: cannot pipe producer {producer}: {e}");
            }
        }
    }
}

/// Pipe events: a piped producer arrived, or a pipe closed.
pub fn on_pipe_event(sfu: &mut Sfu, e: Event) {
    match e {
        Event::PipeProducerAdded { producer, pipe, .. } => {
            let Some(stream) = sfu.spread.by_pipe.get(&pipe).cloned() else {
                return;
            };
            let Some(import) = sfu.spread.imports.get_mut(&stream) else {
                return;
            };
            if import.pipe != pipe {
                return;
            }
            import.producers.push(producer);
            // A track added after viewers started: they get it too.
            for v in import.viewers.clone() {
                whip::consume(sfu, v, &[producer]);
            }
        }
        Event::PipeClosed { pipe, reason } => {
            sfu.wires.unlink(pipe);
            let Some(stream) = sfu.spread.by_pipe.remove(&pipe) else {
                return;
            };
            debug!("stream {stream}: pipe {pipe} closed ({reason:?})");
            if let Some(ends) = sfu.spread.exports.get_mut(&stream) {
                ends.retain(|p| *p != pipe);
            }
            let ours = sfu.spread.imports.get(&stream).map(|i| i.pipe);
            if ours == Some(pipe) {
                let gone = sfu.spread.imports.remove(&stream);
                let viewers = gone.map(|i| i.viewers).unwrap_or_default();
                info!(
                    "stream {stream}: publisher gone, closing {} viewer(s) on worker {}",
                    viewers.len(),
                    sfu.wires.index
                );
                for v in viewers {
                    whip::forget(sfu, v);
                    sfu.close_transport(v);
                }
            }
        }
        _ => {}
    }
}
