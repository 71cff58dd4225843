//! The smallest embedding of manifold-sfu: one UDP socket, a tiny HTTP
//! handler for WHIP and WHEP, and the host loop. Standard library only.
//! `cargo run --release --example minimal -- [HTTP_ADDR] [UDP_ADDR]`
//!
//! `POST /whip` with an SDP offer publishes (the last publisher wins);
//! `POST /whep` views the publisher's tracks. Both answer `201 Created`
//! with the SDP answer. `GET /` is an empty page (an origin for browsers).
//! The router sits behind a mutex shared by the media loop and the HTTP
//! thread; the reference server (`examples/server/`) gives it to one thread
//! and sends it jobs, and adds sessions, DELETE, tokens, rooms, metrics.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use manifold_sfu::{
    ConsumerOptions, Event, Input, ListenInfo, Output, Router, RouterConfig, RouterError,
    TransportId, WebRtcTransportOptions,
};

/// What the media loop and the HTTP thread share.
struct Sfu {
    router: Router,
    /// The UDP socket's address, announced in answers.
    local: SocketAddr,
    /// The current WHIP publisher's transport.
    publisher: Option<TransportId>,
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let http = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let udp = args.next().unwrap_or_else(|| "127.0.0.1:40000".into());
    let socket = UdpSocket::bind(udp)?;
    let listener = TcpListener::bind(http)?;
    let local = socket.local_addr()?;
    println!("http://{}/ udp {local}", listener.local_addr()?);

    let router = Router::new(RouterConfig::default(), Instant::now());
    let publisher = None;
    let sfu = Arc::new(Mutex::new(Sfu {
        router,
        local,
        publisher,
    }));
    let shared = Arc::clone(&sfu);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Err(e) = serve(&shared, stream) {
                eprintln!("http: {e}");
            }
        }
    });
    media_loop(&sfu, &socket)
}

/// The host loop: drain the router's output, then feed it one datagram or
/// the timeout, each with the current time.
fn media_loop(sfu: &Mutex<Sfu>, socket: &UdpSocket) -> io::Result<()> {
    let (mut buf, local) = (vec![0u8; 2048], socket.local_addr()?);
    loop {
        let deadline = {
            let mut sfu = sfu.lock().unwrap();
            loop {
                match sfu.router.poll_output() {
                    Output::Transmit(t) => {
                        // A lost datagram is like one lost on the network.
                        let _ = socket.send_to(&t.contents, t.destination);
                    }
                    Output::Event(e) => {
                        println!("{e:?}");
                        if let Event::TransportClosed { transport, .. } = e {
                            sfu.publisher = sfu.publisher.filter(|p| *p != transport);
                        }
                    }
                    Output::Timeout(at) => break at,
                    _ => {}
                }
            }
        };
        // HTTP requests queue output from the other thread: wake at least
        // every 10 ms to send it.
        let wait = deadline.saturating_duration_since(Instant::now());
        let wait = wait.clamp(Duration::from_millis(1), Duration::from_millis(10));
        socket.set_read_timeout(Some(wait))?;
        let received = socket.recv_from(&mut buf);
        let now = Instant::now();
        let mut sfu = sfu.lock().unwrap();
        match received {
            Ok((n, source)) => {
                sfu.router
                    .handle_input(Input::receive(now, source, local, &buf[..n]))
            }
            // The wait ran out (WouldBlock or TimedOut): is the deadline due?
            Err(_) if now >= deadline => sfu.router.handle_input(Input::Timeout(now)),
            Err(_) => {}
        }
    }
}

/// One HTTP/1.1 request on a connection, answered and closed.
fn serve(sfu: &Mutex<Sfu>, stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(&stream);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let (mut length, mut line) = (0, String::new());
    while reader.read_line(&mut line)? > 2 {
        // Headers until the empty line ("\r\n"); only the body's length matters.
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        line.clear();
    }
    let mut body = vec![0; length.min(64 * 1024)];
    reader.read_exact(&mut body)?;
    let offer = String::from_utf8_lossy(&body);

    let words: Vec<&str> = request.split_whitespace().collect();
    match words.get(..2) {
        Some(["POST", path @ ("/whip" | "/whep")]) => {
            let result = match *path {
                "/whip" => whip(&mut sfu.lock().unwrap(), &offer),
                _ => whep(&mut sfu.lock().unwrap(), &offer),
            };
            match result {
                Ok((t, answer)) => {
                    let headers =
                        format!("Content-Type: application/sdp\r\nLocation: {path}/{t}\r\n");
                    respond(&stream, "201 Created", &headers, &answer)
                }
                Err(e) => respond(&stream, "400 Bad Request", "", &format!("{e}\n")),
            }
        }
        Some(["GET", _]) => respond(&stream, "200 OK", "Content-Type: text/html\r\n", ""),
        _ => respond(&stream, "404 Not Found", "", ""),
    }
}

fn respond(mut stream: &TcpStream, status: &str, headers: &str, body: &str) -> io::Result<()> {
    let len = body.len();
    write!(
        stream,
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {len}\r\nConnection: close\r\n\r\n{body}"
    )
}

/// A transport answering `offer`: (its id, the SDP answer).
fn answer(sfu: &mut Sfu, offer: &str) -> Result<(TransportId, String), RouterError> {
    let now = Instant::now();
    let options = WebRtcTransportOptions::new([ListenInfo::new(sfu.local)]);
    let t = sfu.router.create_webrtc_transport(now, options)?;
    let mut api = sfu.router.transport(t).expect("just created");
    let answer = api.accept_offer(now, offer);
    if answer.is_err() {
        api.close(now);
    }
    Ok((t, answer?))
}

/// WHIP: the offer's tracks become producers; this is the publisher now.
fn whip(sfu: &mut Sfu, offer: &str) -> Result<(TransportId, String), RouterError> {
    let (t, answer) = answer(sfu, offer)?;
    let previous = sfu.publisher.replace(t);
    if let Some(old) = previous.and_then(|p| sfu.router.transport(p)) {
        old.close(Instant::now());
    }
    Ok((t, answer))
}

/// WHEP: consume every track of the current publisher on the new
/// transport; each consumer takes a receive-only m-line of the offer.
fn whep(sfu: &mut Sfu, offer: &str) -> Result<(TransportId, String), RouterError> {
    let (t, answer) = answer(sfu, offer)?;
    let publisher = sfu.publisher.and_then(|p| sfu.router.transport(p));
    for p in publisher.map(|p| p.producers()).unwrap_or_default() {
        let options = ConsumerOptions::default();
        sfu.router.consume(Instant::now(), t, p, options)?;
    }
    Ok((t, answer))
}
