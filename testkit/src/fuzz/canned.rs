//! Canned client SDP offers, written by hand in the shape browsers send
//! them. The `router` target accepts them as they are or mutated; the `sdp`
//! target's seed corpus holds the same texts.

/// A Chromium offer to send and receive audio (Opus, RED, G.722, PCM) and
/// video (VP8, VP9, H.264, AV1, each with RTX), as `getUserMedia` plus two
/// `addTrack` calls make it.
pub const CHROMIUM_SENDRECV: &str = "v=0\r
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r
s=-\r
t=0 0\r
a=group:BUNDLE 0 1\r
a=extmap-allow-mixed\r
a=msid-semantic: WMS stream0\r
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r
c=IN IP4 0.0.0.0\r
a=rtcp:9 IN IP4 0.0.0.0\r
a=candidate:1467250027 1 udp 2122260223 192.0.2.10 50000 typ host generation 0 network-id 1\r
a=ice-ufrag:cLi3\r
a=ice-pwd:Q9yVnF8mH0yGr7b1uCk2zXw4\r
a=ice-options:trickle\r
a=fingerprint:sha-256 3C:5C:8C:AA:C3:98:62:EA:FB:54:E7:F4:11:36:15:5E:F9:75:A0:DB:AE:F0:6B:56:03:5D:A4:3F:DC:E9:49:97\r
a=setup:actpass\r
a=mid:0\r
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r
a=sendrecv\r
a=msid:stream0 audio0\r
a=rtcp-mux\r
a=rtcp-rsize\r
a=rtpmap:111 opus/48000/2\r
a=rtcp-fb:111 transport-cc\r
a=fmtp:111 minptime=10;useinbandfec=1\r
a=rtpmap:63 red/48000/2\r
a=fmtp:63 111/111\r
a=rtpmap:9 G722/8000\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:13 CN/8000\r
a=rtpmap:110 telephone-event/48000\r
a=rtpmap:126 telephone-event/8000\r
a=ssrc:1001 cname:fuzzcname\r
a=ssrc:1001 msid:stream0 audio0\r
m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 102 103 45 46\r
c=IN IP4 0.0.0.0\r
a=rtcp:9 IN IP4 0.0.0.0\r
a=ice-ufrag:cLi3\r
a=ice-pwd:Q9yVnF8mH0yGr7b1uCk2zXw4\r
a=ice-options:trickle\r
a=fingerprint:sha-256 3C:5C:8C:AA:C3:98:62:EA:FB:54:E7:F4:11:36:15:5E:F9:75:A0:DB:AE:F0:6B:56:03:5D:A4:3F:DC:E9:49:97\r
a=setup:actpass\r
a=mid:1\r
a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r
a=extmap:13 urn:3gpp:video-orientation\r
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r
a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r
a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r
a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r
a=sendrecv\r
a=msid:stream0 video0\r
a=rtcp-mux\r
a=rtcp-rsize\r
a=rtpmap:96 VP8/90000\r
a=rtcp-fb:96 goog-remb\r
a=rtcp-fb:96 transport-cc\r
a=rtcp-fb:96 ccm fir\r
a=rtcp-fb:96 nack\r
a=rtcp-fb:96 nack pli\r
a=rtpmap:97 rtx/90000\r
a=fmtp:97 apt=96\r
a=rtpmap:98 VP9/90000\r
a=rtcp-fb:98 goog-remb\r
a=rtcp-fb:98 transport-cc\r
a=rtcp-fb:98 ccm fir\r
a=rtcp-fb:98 nack\r
a=rtcp-fb:98 nack pli\r
a=fmtp:98 profile-id=0\r
a=rtpmap:99 rtx/90000\r
a=fmtp:99 apt=98\r
a=rtpmap:102 H264/90000\r
a=rtcp-fb:102 goog-remb\r
a=rtcp-fb:102 transport-cc\r
a=rtcp-fb:102 ccm fir\r
a=rtcp-fb:102 nack\r
a=rtcp-fb:102 nack pli\r
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r
a=rtpmap:103 rtx/90000\r
a=fmtp:103 apt=102\r
a=rtpmap:45 AV1/90000\r
a=rtcp-fb:45 goog-remb\r
a=rtcp-fb:45 transport-cc\r
a=rtcp-fb:45 ccm fir\r
a=rtcp-fb:45 nack\r
a=rtcp-fb:45 nack pli\r
a=fmtp:45 level-idx=5;profile=0;tier=0\r
a=rtpmap:46 rtx/90000\r
a=fmtp:46 apt=45\r
a=ssrc-group:FID 2001 2002\r
a=ssrc:2001 cname:fuzzcname\r
a=ssrc:2001 msid:stream0 video0\r
a=ssrc:2002 cname:fuzzcname\r
a=ssrc:2002 msid:stream0 video0\r
";

/// A WHEP player's offer: receive one audio and one video track (Chromium
/// `addTransceiver(kind, {direction: 'recvonly'})`).
pub const WHEP_RECVONLY: &str = "v=0\r
o=- 1873265091558932471 2 IN IP4 127.0.0.1\r
s=-\r
t=0 0\r
a=group:BUNDLE 0 1\r
a=extmap-allow-mixed\r
a=msid-semantic: WMS\r
m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r
c=IN IP4 0.0.0.0\r
a=rtcp:9 IN IP4 0.0.0.0\r
a=ice-ufrag:wH3p\r
a=ice-pwd:u7KQm2VbYcXe9PzR1tLnJ0sD\r
a=ice-options:trickle\r
a=fingerprint:sha-256 3C:5C:8C:AA:C3:98:62:EA:FB:54:E7:F4:11:36:15:5E:F9:75:A0:DB:AE:F0:6B:56:03:5D:A4:3F:DC:E9:49:97\r
a=setup:actpass\r
a=mid:0\r
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r
a=recvonly\r
a=rtcp-mux\r
a=rtcp-rsize\r
a=rtpmap:111 opus/48000/2\r
a=rtcp-fb:111 transport-cc\r
a=fmtp:111 minptime=10;useinbandfec=1\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:8 PCMA/8000\r
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103\r
c=IN IP4 0.0.0.0\r
a=rtcp:9 IN IP4 0.0.0.0\r
a=ice-ufrag:wH3p\r
a=ice-pwd:u7KQm2VbYcXe9PzR1tLnJ0sD\r
a=ice-options:trickle\r
a=fingerprint:sha-256 3C:5C:8C:AA:C3:98:62:EA:FB:54:E7:F4:11:36:15:5E:F9:75:A0:DB:AE:F0:6B:56:03:5D:A4:3F:DC:E9:49:97\r
a=setup:actpass\r
a=mid:1\r
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r
a=recvonly\r
a=rtcp-mux\r
a=rtcp-rsize\r
a=rtpmap:96 VP8/90000\r
a=rtcp-fb:96 transport-cc\r
a=rtcp-fb:96 ccm fir\r
a=rtcp-fb:96 nack\r
a=rtcp-fb:96 nack pli\r
a=rtpmap:97 rtx/90000\r
a=fmtp:97 apt=96\r
a=rtpmap:102 H264/90000\r
a=rtcp-fb:102 transport-cc\r
a=rtcp-fb:102 ccm fir\r
a=rtcp-fb:102 nack\r
a=rtcp-fb:102 nack pli\r
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r
a=rtpmap:103 rtx/90000\r
a=fmtp:103 apt=102\r
";

/// A WHIP publisher's offer with three VP8 simulcast encodings (rids
/// `q;h;f`, lowest first, as Chromium sends them) and Opus audio.
pub const SIMULCAST_SENDONLY: &str = "v=0\r
o=- 8297001913452012633 2 IN IP4 127.0.0.1\r
s=-\r
t=0 0\r
a=group:BUNDLE 0 1\r
a=extmap-allow-mixed\r
a=msid-semantic: WMS sim0\r
m=audio 9 UDP/TLS/RTP/SAVPF 111\r
c=IN IP4 0.0.0.0\r
a=rtcp:9 IN IP4 0.0.0.0\r
a=ice-ufrag:s1mC\r
a=ice-pwd:Zk4TgWq8NcHv2LbXr6PyDm0E\r
a=ice-options:trickle\r
a=fingerprint:sha-256 3C:5C:8C:AA:C3:98:62:EA:FB:54:E7:F4:11:36:15:5E:F9:75:A0:DB:AE:F0:6B:56:03:5D:A4:3F:DC:E9:49:97\r
a=setup:actpass\r
a=mid:0\r
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r
a=sendonly\r
a=msid:sim0 audio0\r
a=rtcp-mux\r
a=rtpmap:111 opus/48000/2\r
a=fmtp:111 minptime=10;useinbandfec=1\r
a=ssrc:3001 cname:simcname\r
m=video 9 UDP/TLS/RTP/SAVPF 96 97\r
c=IN IP4 0.0.0.0\r
a=rtcp:9 IN IP4 0.0.0.0\r
a=ice-ufrag:s1mC\r
a=ice-pwd:Zk4TgWq8NcHv2LbXr6PyDm0E\r
a=ice-options:trickle\r
a=fingerprint:sha-256 3C:5C:8C:AA:C3:98:62:EA:FB:54:E7:F4:11:36:15:5E:F9:75:A0:DB:AE:F0:6B:56:03:5D:A4:3F:DC:E9:49:97\r
a=setup:actpass\r
a=mid:1\r
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r
a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r
a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r
a=sendonly\r
a=msid:sim0 video0\r
a=rtcp-mux\r
a=rtcp-rsize\r
a=rtpmap:96 VP8/90000\r
a=rtcp-fb:96 transport-cc\r
a=rtcp-fb:96 ccm fir\r
a=rtcp-fb:96 nack\r
a=rtcp-fb:96 nack pli\r
a=rtpmap:97 rtx/90000\r
a=fmtp:97 apt=96\r
a=rid:q send\r
a=rid:h send\r
a=rid:f send\r
a=simulcast:send q;h;f\r
";

/// A minimal offer to send one Opus track (WHIP, audio only), without
/// candidates or `a=ssrc` lines.
pub const WHIP_AUDIO: &str = "v=0\r
o=- 1 1 IN IP4 0.0.0.0\r
s=-\r
t=0 0\r
a=group:BUNDLE a\r
m=audio 9 UDP/TLS/RTP/SAVPF 111\r
c=IN IP4 0.0.0.0\r
a=ice-ufrag:wA1x\r
a=ice-pwd:P0oLk9IjU8yHt7GrF6eDcV5b\r
a=fingerprint:sha-256 3C:5C:8C:AA:C3:98:62:EA:FB:54:E7:F4:11:36:15:5E:F9:75:A0:DB:AE:F0:6B:56:03:5D:A4:3F:DC:E9:49:97\r
a=setup:actpass\r
a=mid:a\r
a=sendonly\r
a=rtcp-mux\r
a=rtpmap:111 opus/48000/2\r
";

/// Every canned offer, in the order the `router` target indexes them.
pub const OFFERS: [&str; 4] = [
    CHROMIUM_SENDRECV,
    WHEP_RECVONLY,
    SIMULCAST_SENDONLY,
    WHIP_AUDIO,
];
