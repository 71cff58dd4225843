#!/usr/bin/env python3
"""aiortc (unmodified, from PyPI) against the example server's WHIP/WHEP.

One run: WHIP-publish a synthetic camera and microphone (FFmpeg's lavfi
`testsrc` and `sine`, through PyAV, aiortc's MediaPlayer), then WHEP-view the
same stream and decode what arrives. Both sessions are created (both POSTs
answered) before either peer connection applies its answer, so when the
server was quiet before the run both transports are made before any
datagram reaches it.

Prints progress on stderr and one JSON line on stdout:
  {"ok": ..., "error": ..., "publisher": {...}, "viewer": {...}}
Exits 0 when the publisher connected and sent media and the viewer connected
and decoded at least --frames video frames and some audio, 1 otherwise.

With --turn udp|tcp|tls the client takes its ICE servers from the server's
`Link: <turn:...>; rel="ice-server"` headers (RFC 9725 section 4.6) and uses
the one of that transport (aiortc uses one TURN server). aiortc fixes its
ICE servers when transceivers are added and has no setConfiguration, so it
learns them from a first WHIP POST, whose session it DELETEs at once, then
runs as above with them. The result then says which candidate each side's
nominated pair uses ("relay" through coturn). For `turns:` with a private
certificate, point SSL_CERT_FILE at it (Python verifies the certificate).

The only adaptation to the test machine: aioice leaves 127.0.0.1 out of its
host candidates, so when the server is on loopback it gathers 127.0.0.1
(see /work/shared/INTEROP.md). Nothing of aiortc's WebRTC stack is replaced.
"""
import argparse
import asyncio
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError


def log(*a):
    print(f"[aiortc {time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def http(method, url, token, body=None):
    """One WHIP/WHEP request; returns (status, headers, text)."""
    req = urllib.request.Request(url, method=method, data=body.encode() if body else None)
    req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/sdp")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


async def post_offer(pc, url, token, what):
    await pc.setLocalDescription(await pc.createOffer())
    status, headers, body = await asyncio.to_thread(http, "POST", url, token, pc.localDescription.sdp)
    if status != 201:
        raise RuntimeError(f"{what} POST {url} answered {status}: {body.strip()}")
    location = urllib.parse.urljoin(url, headers["Location"])
    log(f"{what}: 201, session {location}")
    return location, body


def ice_servers_of(headers):
    """The ICE servers of a 201's Link headers: [{urls, username, credential}]."""
    out = []
    for value in headers.get_all("Link") or []:
        for link in re.split(r",\s*(?=<)", value):
            m = re.match(r"\s*<([^>]*)>(.*)$", link)
            if not m:
                continue
            params = dict(re.findall(r';\s*([a-z-]+)="([^"]*)"', m.group(2)))
            if params.get("rel") == "ice-server":
                out.append({"urls": m.group(1), "username": params.get("username"),
                            "credential": params.get("credential")})
    return out


def pick_turn(servers, transport):
    """The TURN server of `transport` (udp, tcp, tls) among the Link ones."""
    for s in servers:
        url = s["urls"]
        if transport == "tls":
            found = url.startswith("turns:")
        else:
            found = url.startswith("turn:") and (("transport=tcp" in url) == (transport == "tcp"))
        if found:
            return s
    raise RuntimeError(f"no {transport} TURN server among the Link headers: {servers}")


async def learn_ice_servers(args, result):
    """POST a throwaway WHIP offer, read the 201's Link ICE servers, DELETE it."""
    probe = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    player = MediaPlayer(f"testsrc=size=160x120:rate=5", format="lavfi")
    try:
        probe.addTransceiver(player.video, direction="sendonly")
        offer = await probe.createOffer()
        status, headers, body = await asyncio.to_thread(http, "POST", args.whip, args.token, offer.sdp)
        if status != 201:
            raise RuntimeError(f"probe WHIP POST answered {status}: {body.strip()}")
        location = urllib.parse.urljoin(args.whip, headers["Location"])
        await asyncio.to_thread(http, "DELETE", location, args.token)
    finally:
        player.video.stop()
        await probe.close()
    servers = ice_servers_of(headers)
    chosen = pick_turn(servers, args.turn)
    log(f"Link ICE servers: {[s['urls'] for s in servers]}; using {chosen['urls']}")
    result["iceServers"] = servers
    result["turn"] = chosen["urls"]
    return [RTCIceServer(urls=chosen["urls"], username=chosen["username"], credential=chosen["credential"])]


def nominated(pc):
    """The local candidate of pc's nominated ICE pair (aioice's state)."""
    for t in pc.getTransceivers():
        conn = t.receiver.transport.transport._connection
        for pair in conn._nominated.values():
            c = pair.local_candidate
            return {"type": c.type, "host": c.host, "port": c.port, "transport": c.transport,
                    "remote": f"{pair.remote_candidate.host}:{pair.remote_candidate.port}"}
    return None


def watch_state(pc, name, states):
    @pc.on("connectionstatechange")
    def _():
        states.append(pc.connectionState)
        log(f"{name} connection state: {pc.connectionState}")


async def outbound(pc):
    out = {"bytesSent": 0, "packetsSent": 0}
    for s in (await pc.getStats()).values():
        if s.type == "outbound-rtp":
            out["bytesSent"] += s.bytesSent
            out["packetsSent"] += s.packetsSent
            out[f"{s.kind}BytesSent"] = out.get(f"{s.kind}BytesSent", 0) + s.bytesSent
    return out


async def run(args, result):
    servers = await learn_ice_servers(args, result) if args.turn else []
    config = RTCConfiguration(iceServers=servers)  # no STUN: the machine is offline
    pub = RTCPeerConnection(config)
    view = RTCPeerConnection(config)
    result["publisher"] = {"states": []}
    result["viewer"] = {"states": [], "videoFrames": 0, "audioFrames": 0, "width": 0, "height": 0}
    watch_state(pub, "publisher", result["publisher"]["states"])
    watch_state(view, "viewer", result["viewer"]["states"])
    players = []
    sessions = []
    try:
        video = MediaPlayer(f"testsrc=size=640x360:rate=30", format="lavfi")
        audio = MediaPlayer("sine=frequency=440:sample_rate=48000", format="lavfi")
        players += [video, audio]
        pub.addTransceiver(video.video, direction="sendonly")
        pub.addTransceiver(audio.audio, direction="sendonly")
        view.addTransceiver("video", direction="recvonly")
        view.addTransceiver("audio", direction="recvonly")

        decoded = asyncio.Event()
        stats = result["viewer"]

        async def consume(track):
            try:
                while True:
                    frame = await track.recv()
                    if track.kind == "video":
                        stats["videoFrames"] += 1
                        stats["width"], stats["height"] = frame.width, frame.height
                        if stats["videoFrames"] == 1:
                            log(f"viewer: first video frame {frame.width}x{frame.height}")
                    else:
                        stats["audioFrames"] += 1
                    if stats["videoFrames"] >= args.frames and stats["audioFrames"] >= args.frames:
                        decoded.set()
            except MediaStreamError:
                log(f"viewer: {track.kind} track ended")

        tasks = []

        @view.on("track")
        def on_track(track):
            log(f"viewer: track {track.kind}")
            tasks.append(asyncio.ensure_future(consume(track)))

        # Both sessions exist on the server before either peer sends a datagram.
        pub_loc, pub_answer = await post_offer(pub, args.whip, args.token, "WHIP publish")
        sessions.append(pub_loc)
        try:
            view_loc, view_answer = await post_offer(view, args.whep, args.token, "WHEP view")
        except RuntimeError as e:
            if "answered 404" in str(e):
                raise RuntimeError(f"{e} (its WHIP publish was answered 201 just before: the server "
                                   "closed the publisher's session in between; see the server log)")
            raise
        sessions.append(view_loc)
        await pub.setRemoteDescription(RTCSessionDescription(pub_answer, "answer"))
        await view.setRemoteDescription(RTCSessionDescription(view_answer, "answer"))

        async def connected(pc, name):
            while pc.connectionState != "connected":
                if pc.connectionState in ("failed", "closed"):
                    raise RuntimeError(f"{name} connection {pc.connectionState}")
                await asyncio.sleep(0.1)

        try:
            await asyncio.wait_for(asyncio.gather(connected(pub, "publisher"), connected(view, "viewer")),
                                   args.connect_timeout)
        except asyncio.TimeoutError:
            raise RuntimeError(f"not connected within {args.connect_timeout} s: publisher "
                               f"{pub.connectionState}, viewer {view.connectionState}")
        try:
            await asyncio.wait_for(decoded.wait(), args.decode_timeout)
        except asyncio.TimeoutError:
            raise RuntimeError(f"viewer decoded {stats['videoFrames']} video and {stats['audioFrames']} "
                               f"audio frames in {args.decode_timeout} s (wanted {args.frames} each)")
        result["publisher"].update(await outbound(pub))
        result["publisher"]["candidate"] = nominated(pub)
        stats["candidate"] = nominated(view)
        result["publisher"]["state"] = pub.connectionState
        stats["state"] = view.connectionState
        if pub.connectionState != "connected" or view.connectionState != "connected":
            raise RuntimeError(f"connection dropped: publisher {pub.connectionState}, viewer {view.connectionState}")
        if result["publisher"].get("videoBytesSent", 0) <= 0 or result["publisher"].get("audioBytesSent", 0) <= 0:
            raise RuntimeError(f"publisher sent nothing: {result['publisher']}")
        result["ok"] = True
    finally:
        # Leave the server empty for the next run: DELETE both sessions.
        for loc in reversed(sessions):
            try:
                status, _, _ = await asyncio.to_thread(http, "DELETE", loc, args.token)
                log(f"DELETE {loc}: {status}")
            except Exception as e:  # report, do not hide the test's own error
                log(f"DELETE {loc}: {e}")
        for p in players:
            for t in (p.audio, p.video):
                if t:
                    t.stop()
        await pub.close()
        await view.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--whip", required=True, help="WHIP endpoint, e.g. http://127.0.0.1:8080/whip/live")
    ap.add_argument("--whep", required=True, help="WHEP endpoint of the same stream")
    ap.add_argument("--token", required=True)
    ap.add_argument("--frames", type=int, default=30, help="video and audio frames the viewer must decode")
    ap.add_argument("--turn", choices=["udp", "tcp", "tls"],
                    help="use the server's Link ICE servers: the TURN server of this transport")
    ap.add_argument("--connect-timeout", type=float, default=20)
    ap.add_argument("--decode-timeout", type=float, default=20)
    args = ap.parse_args()

    host = urllib.parse.urlparse(args.whip).hostname
    if host in ("127.0.0.1", "localhost"):
        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

    result = {"ok": False, "error": None, "client": "aiortc"}
    try:
        import aiortc
        result["version"] = aiortc.__version__
    except AttributeError:
        pass
    try:
        asyncio.run(asyncio.wait_for(run(args, result), args.connect_timeout + args.decode_timeout + 20))
    except BaseException as e:  # noqa: BLE001 -- every failure is reported in the JSON
        result["ok"] = False
        result["error"] = f"{type(e).__name__}: {e}"
        log("FAILED:", result["error"])
    print(json.dumps(result), flush=True)
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
