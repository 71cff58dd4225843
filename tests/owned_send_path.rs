//! Issue #19, step 6: forwarded RTP through the owned send path
//! (`SendPath::Owned`) reaches str0m subscribers whole. One subscriber's
//! downlink loses 5 %: its NACKs are answered with RTX from the owned
//! history, so at least 99 % of the video arrives. Both subscribers get
//! audio with its level; the sender reports str0m writes for the owned
//! streams leave corrected: counts of what was sent and an RTP time on
//! the media's clock, where str0m alone would say 0.

use std::time::Duration;

use manifold_sfu::testkit_hooks::owned_path_counts;
use manifold_sfu::{MediaKind, RouterConfig, SendPath};
use manifold_testkit::{check, Client, LinkConfig, Sim};
use str0m::RtcConfig;

#[test]
fn owned_path_forwards_repairs_and_reports() {
    let mut config = RouterConfig::default();
    config.seed = Some(19);
    config.send_path = SendPath::Owned;
    let mut sim = Sim::with_config(config);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, true, true);
    let source = sim.client(publisher).source.as_mut().unwrap();
    source.speak(Duration::ZERO, Duration::from_secs(60), -30);
    sim.run_for(Duration::from_millis(500));
    let lossy = sim.add_peer("lossy", LinkConfig::default(), LinkConfig::lossy(0.05));
    let clean = sim.add_peer("clean", LinkConfig::default(), LinkConfig::default());
    // The clean subscriber records the sender reports it reads.
    let addr = sim.client(clean).addr;
    let rtc = RtcConfig::new().set_rtp_mode(true).enable_raw_packets(true);
    sim.peers[clean].client = Client::from_config("clean", addr, sim.now, rtc);
    let t_lossy = sim.subscribe(lossy, &producers);
    let t_clean = sim.subscribe(clean, &producers);
    sim.run_for(Duration::from_secs(20));
    sim.client(publisher).source = None;
    sim.run_for(Duration::from_secs(1));

    for s in [lossy, clean] {
        let c = sim.client(s);
        let video = c.track(MediaKind::Video);
        let delivered = check::delivered_share(video);
        assert!(delivered >= 0.99, "{}: delivered {delivered:.4}", c.name);
        assert!(
            video.len() > 1500,
            "{}: {} video packets",
            c.name,
            video.len()
        );
        let audio = c.track(MediaKind::Audio);
        assert!(
            audio.len() > 900,
            "{}: {} audio packets",
            c.name,
            audio.len()
        );
        assert!(
            audio.iter().all(|r| r.audio_level == Some(-30)),
            "{}: every audio packet carries its level, -30 dBov",
            c.name
        );
    }
    assert!(sim.peers[lossy].down.lost > 50, "the downlink really lost");

    let lossy_counts = owned_path_counts(&sim.router, t_lossy).expect("the owned path ran");
    let clean_counts = owned_path_counts(&sim.router, t_clean).expect("the owned path ran");
    assert!(lossy_counts.packets_sent > 2500, "{lossy_counts:?}");
    // Every loss of the downlink was NACKed and answered from the history.
    assert!(
        lossy_counts.rtx_sent >= sim.peers[lossy].down.lost / 2,
        "{lossy_counts:?}, {} lost",
        sim.peers[lossy].down.lost
    );
    assert_eq!(clean_counts.rtx_sent, 0, "{clean_counts:?}");
    for c in [lossy_counts, clean_counts] {
        assert!(c.reports_corrected >= 20, "{c:?}");
        assert_eq!(c.rtcp_dropped, 0, "{c:?}");
    }

    // The clean subscriber's sender reports on the video SSRC: counts of
    // what arrived, and RTP times that advance with the NTP times at the
    // 90 kHz clock of the media (str0m alone would send RTP time 0).
    let c = sim.client(clean);
    let video = c.track(MediaKind::Video);
    let ssrc = video.last().unwrap().ssrc;
    let srs: Vec<_> = c
        .sender_reports
        .iter()
        .filter(|sr| *sr.ssrc == ssrc && sr.sender_packet_count > 0)
        .collect();
    assert!(srs.len() >= 10, "{} video sender reports", srs.len());
    let last = srs.last().unwrap();
    let got = video.len() as u32;
    assert!(
        last.sender_packet_count <= got && last.sender_packet_count + 200 >= got,
        "reported {} sent, {got} arrived",
        last.sender_packet_count
    );
    for pair in srs.windows(2) {
        let secs = pair[1]
            .ntp_time
            .duration_since(pair[0].ntp_time)
            .unwrap()
            .as_secs_f64();
        let ticks = (pair[1].rtp_time.numer() as u32).wrapping_sub(pair[0].rtp_time.numer() as u32);
        let rate = f64::from(ticks) / secs;
        assert!(
            (85_000.0..95_000.0).contains(&rate),
            "RTP time advances at {rate:.0} Hz between reports"
        );
    }
    // Each report's RTP time is that of media sent around it.
    let newest_ts = video.last().unwrap().ts;
    let apart = (newest_ts.wrapping_sub(last.rtp_time.numer() as u32) as i32).unsigned_abs();
    assert!(
        apart < 90_000 * 2,
        "the last report's RTP time is {apart} ticks from the newest packet's"
    );
}
