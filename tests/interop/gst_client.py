#!/usr/bin/python3
"""GStreamer webrtcbin (Debian's packages, stock settings) against the example
server's WHIP/WHEP. Run with Debian's /usr/bin/python3 (python3-gi).

One run: a publisher webrtcbin sends videotestsrc as VP8 and audiotestsrc as
Opus (WHIP); a viewer webrtcbin receives the same stream (WHEP), decodes it
with decodebin and counts the decoded video frames and audio buffers at
fakesinks. Both sessions are created (both POSTs answered) before either
webrtcbin gets its answer, so when the server was quiet before the run both
transports are made before any datagram reaches it.

webrtcbin keeps its stock DTLS certificate (RSA-2048 in GStreamer 1.22).
No WHIP/WHEP element ships in Debian bookworm, so this script does the HTTP
(non-trickle: it waits for ICE gathering before POSTing). The only
adaptation to the test machine: libnice skips loopback interfaces, so when
the server is on loopback 127.0.0.1 is added to the ICE agent
(see /work/shared/INTEROP.md).

Prints progress on stderr and one JSON line on stdout:
  {"ok": ..., "error": ..., "publisher": {...}, "viewer": {...}}
Exits 0 when both connected, the publisher sent RTP and the viewer decoded
at least --frames video frames and audio, 1 otherwise.
"""
import argparse
import json
import os
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

# OpenSSL's reason for a failed DTLS handshake is only logged by GStreamer's
# dtlsconnection category: print its errors on stderr.
os.environ.setdefault("GST_DEBUG", "dtlsconnection:ERROR")
os.environ.setdefault("GST_DEBUG_NO_COLOR", "1")

T0 = time.monotonic()
KEEP = []  # objects PyGObject 3.42 would otherwise unref once too often


def log(*a):
    print(f"[gstreamer {time.monotonic() - T0:6.2f}s]", *a, file=sys.stderr, flush=True)


def http(method, url, token, body=None):
    req = urllib.request.Request(url, method=method, data=body.encode() if body else None)
    req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/sdp")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def wait_until(check, seconds, what):
    end = time.monotonic() + seconds
    while not check():
        if time.monotonic() > end:
            raise RuntimeError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


class Peer:
    """One webrtcbin in its own pipeline, with its errors and states recorded."""

    def __init__(self, name, description, loopback):
        self.name = name
        element = Gst.parse_launch(description)
        if isinstance(element, Gst.Pipeline):
            self.pipeline = element
        else:  # a lone element: put it in a pipeline of its own
            self.pipeline = Gst.Pipeline.new(name)
            self.pipeline.add(element)
        self.webrtc = self.pipeline.get_by_name("webrtc")
        self.errors = []
        self.states = []
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self._on_error)
        bus.connect("message::warning", self._on_warning)
        self.webrtc.connect("notify::connection-state", self._on_state)
        self.webrtc.connect("notify::ice-connection-state", self._on_ice)
        if loopback:
            agent = self.webrtc.get_property("ice-agent")
            agent.ref()  # PyGObject 3.42 drops a reference it does not own
            KEEP.append(agent)
            agent.emit("add-local-ip-address", "127.0.0.1")

    def _on_error(self, _bus, msg):
        err, dbg = msg.parse_error()
        self.errors.append(f"{msg.src.get_name()}: {err.message} ({dbg})")
        log(f"{self.name} ERROR from {msg.src.get_name()}: {err.message} ({dbg})")

    def _on_warning(self, _bus, msg):
        err, dbg = msg.parse_warning()
        log(f"{self.name} warning from {msg.src.get_name()}: {err.message}")

    def _on_state(self, *_):
        s = self.state()
        self.states.append(s)
        log(f"{self.name} connection state: {s}")

    def _on_ice(self, *_):
        s = self.webrtc.get_property("ice-connection-state").value_nick
        log(f"{self.name} ICE connection state: {s}")

    def state(self):
        return self.webrtc.get_property("connection-state").value_nick

    def wait_for_sink_caps(self, timeout):
        """Wait until every sink pad has caps with an SSRC. webrtcbin writes
        a track's a=ssrc lines from them: an offer made before the encoder's
        first buffer has none for that track."""
        def ready():
            pads = self.webrtc.sinkpads
            for pad in pads:
                caps = pad.get_current_caps()
                if caps is None or not caps.get_structure(0).has_field("ssrc"):
                    return False
            return len(pads) > 0
        wait_until(ready, timeout, f"{self.name}'s sink pads to have caps with an SSRC")

    def set_direction(self, direction):
        i = 0
        while True:
            t = self.webrtc.emit("get-transceiver", i)
            if t is None:
                break
            t.set_property("direction", direction)
            i += 1

    def offer(self, timeout):
        """create-offer, set-local-description, wait for gathering: the SDP."""
        promise = Gst.Promise.new()
        self.webrtc.emit("create-offer", None, promise)
        if promise.wait() != Gst.PromiseResult.REPLIED:
            raise RuntimeError(f"{self.name}: create-offer did not reply")
        reply = promise.get_reply()
        offer = reply.get_value("offer")
        if offer is None:
            raise RuntimeError(f"{self.name}: create-offer failed: {reply.to_string()}")
        promise = Gst.Promise.new()
        self.webrtc.emit("set-local-description", offer, promise)
        promise.wait()
        wait_until(lambda: self.webrtc.get_property("ice-gathering-state")
                   == GstWebRTC.WebRTCICEGatheringState.COMPLETE, timeout,
                   f"{self.name}'s ICE gathering")
        return self.webrtc.get_property("local-description").sdp.as_text()

    def answer(self, sdp_text):
        ok, sdp = GstSdp.SDPMessage.new_from_text(sdp_text)
        if ok != GstSdp.SDPResult.OK:
            raise RuntimeError(f"{self.name}: unparsable answer")
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        promise = Gst.Promise.new()
        self.webrtc.emit("set-remote-description", answer, promise)
        promise.wait()
        reply = promise.get_reply()
        if reply is not None and reply.has_field("error"):
            raise RuntimeError(f"{self.name}: set-remote-description: {reply.get_value('error')}")

    def stats(self):
        """get-stats: the reply structure (one nested structure per stats entry)."""
        promise = Gst.Promise.new()
        self.webrtc.emit("get-stats", None, promise)
        if promise.wait() != Gst.PromiseResult.REPLIED:
            return None
        return promise.get_reply()


def outbound_bytes(stats):
    """Sum bytes-sent / packets-sent of the outbound-rtp entries of get-stats."""
    out = {"bytesSent": 0, "packetsSent": 0, "outboundStreams": 0}
    if stats is None:
        return out
    for i in range(stats.n_fields()):
        entry = stats.get_value(stats.nth_field_name(i))
        if not isinstance(entry, Gst.Structure):
            continue
        if entry.get_value("type") != GstWebRTC.WebRTCStatsType.OUTBOUND_RTP:
            continue
        out["outboundStreams"] += 1
        for field, key in (("bytes-sent", "bytesSent"), ("packets-sent", "packetsSent")):
            ok, value = entry.get_uint64(field)
            out[key] += value if ok else 0
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--whip", required=True)
    ap.add_argument("--whep", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--connect-timeout", type=float, default=20)
    ap.add_argument("--decode-timeout", type=float, default=20)
    args = ap.parse_args()

    Gst.init(None)
    result = {"ok": False, "error": None, "client": "gstreamer-webrtcbin", "version": Gst.version_string(),
              "publisher": {}, "viewer": {"videoFrames": 0, "audioBuffers": 0}}
    loop = GLib.MainLoop()
    threading.Thread(target=loop.run, daemon=True).start()
    loopback = urllib.parse.urlparse(args.whip).hostname in ("127.0.0.1", "localhost")
    sessions = []
    pub = view = None
    try:
        pub = Peer("publisher", (
            "webrtcbin name=webrtc bundle-policy=max-bundle "
            "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=30/1 "
            "! videoconvert ! queue ! vp8enc deadline=1 keyframe-max-dist=30 target-bitrate=600000 "
            "! rtpvp8pay pt=96 ! application/x-rtp,media=video,encoding-name=VP8,payload=96 ! webrtc. "
            "audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! queue ! opusenc "
            "! rtpopuspay pt=111 ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! webrtc."),
            loopback)
        view = Peer("viewer", "webrtcbin name=webrtc bundle-policy=max-bundle", loopback)
        counts = result["viewer"]

        def on_decoded_pad(_decodebin, pad):
            caps = pad.get_current_caps() or pad.query_caps(None)
            kind = caps.get_structure(0).get_name()
            sink = Gst.ElementFactory.make("fakesink")
            sink.set_property("sync", False)
            sink.set_property("signal-handoffs", True)
            key = "videoFrames" if kind.startswith("video/") else "audioBuffers"

            def handoff(*_):
                counts[key] += 1
                if counts[key] == 1:
                    log(f"viewer: first decoded {kind}")
            sink.connect("handoff", handoff)
            view.pipeline.add(sink)
            sink.sync_state_with_parent()
            pad.link(sink.get_static_pad("sink"))

        def on_incoming(_webrtc, pad):
            if pad.get_direction() != Gst.PadDirection.SRC:
                return
            log(f"viewer: incoming stream {pad.get_current_caps().to_string()[:80]}")
            decodebin = Gst.ElementFactory.make("decodebin")
            decodebin.connect("pad-added", on_decoded_pad)
            view.pipeline.add(decodebin)
            decodebin.sync_state_with_parent()
            pad.link(decodebin.get_static_pad("sink"))

        view.webrtc.connect("pad-added", on_incoming)
        recvonly = GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY
        view.webrtc.emit("add-transceiver", recvonly, Gst.Caps.from_string(
            "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000,"
            "rtcp-fb-nack-pli=(boolean)true,rtcp-fb-nack=(boolean)true,rtcp-fb-ccm-fir=(boolean)true"))
        view.webrtc.emit("add-transceiver", recvonly, Gst.Caps.from_string(
            "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000,"
            "encoding-params=(string)2"))

        for p in (pub, view):
            if p.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
                raise RuntimeError(f"{p.name} pipeline does not start: {p.errors}")
        pub.wait_for_sink_caps(10)
        pub.set_direction(GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        pub_offer = pub.offer(10)
        view_offer = view.offer(10)

        # Both sessions exist on the server before either peer sends a datagram.
        for peer, url, offer in ((pub, args.whip, pub_offer), (view, args.whep, view_offer)):
            status, headers, body = http("POST", url, args.token, offer)
            if status != 201:
                hint = (" (its WHIP publish was answered 201 just before: the server closed the "
                        "publisher's session in between; see the server log)") if peer is view and status == 404 else ""
                raise RuntimeError(f"{peer.name} POST {url} answered {status}: {body.strip()}{hint}")
            sessions.append(urllib.parse.urljoin(url, headers["Location"]))
            log(f"{peer.name}: 201, session {sessions[-1]}")
            peer.answer_text = body
        pub.answer(pub.answer_text)
        view.answer(view.answer_text)

        def check():
            for p in (pub, view):
                if p.errors:
                    what = "DTLS handshake failed" if "dtls" in p.errors[0].lower() else "pipeline error"
                    raise RuntimeError(f"{p.name} {what} (ICE "
                                       f"{p.webrtc.get_property('ice-connection-state').value_nick}): {p.errors[0]}")
                if p.state() in ("failed", "closed"):
                    raise RuntimeError(f"{p.name} connection {p.state()}")
            return pub.state() == "connected" and view.state() == "connected"
        try:
            wait_until(check, args.connect_timeout, "both peers to connect")
        except RuntimeError as e:
            raise RuntimeError(f"{e}: publisher {pub.state()} (ICE "
                               f"{pub.webrtc.get_property('ice-connection-state').value_nick}), viewer "
                               f"{view.state()} (ICE {view.webrtc.get_property('ice-connection-state').value_nick})")
        log("both connected")

        def decoded():
            check()
            return counts["videoFrames"] >= args.frames and counts["audioBuffers"] >= args.frames
        try:
            wait_until(decoded, args.decode_timeout, f"the viewer to decode {args.frames} video frames and audio")
        except RuntimeError as e:
            raise RuntimeError(f"{e}: decoded {counts}")
        result["publisher"] = outbound_bytes(pub.stats())
        result["publisher"]["state"] = pub.state()
        counts["state"] = view.state()
        if result["publisher"]["outboundStreams"] < 2 or result["publisher"]["bytesSent"] <= 0:
            raise RuntimeError(f"publisher reports no bytes sent: {result['publisher']}")
        result["ok"] = True
    except Exception as e:  # noqa: BLE001 -- every failure is reported in the JSON
        result["error"] = f"{e}"
        log("FAILED:", e)
        if not isinstance(e, RuntimeError):
            traceback.print_exc()
    finally:
        for p in (pub, view):
            if p is not None:
                result.setdefault(p.name, {})["states"] = p.states
                if p.errors:
                    result[p.name]["errors"] = p.errors
        for loc in reversed(sessions):
            try:
                status, _, _ = http("DELETE", loc, args.token)
                log(f"DELETE {loc}: {status}")
            except Exception as e:  # noqa: BLE001
                log(f"DELETE {loc}: {e}")
    print(json.dumps(result), flush=True)
    # Bounded teardown: whatever happens, exit within 5 s.
    threading.Timer(5, lambda: os._exit(0 if result["ok"] else 1)).start()
    for p in (pub, view):
        if p is not None:
            p.pipeline.set_state(Gst.State.NULL)
    # Skip interpreter teardown: PyGObject 3.42 and webrtcbin's ICE agent
    # can crash while finalizing, which would hide the result.
    os._exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
