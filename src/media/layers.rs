//! Layer selection: which spatial and temporal layer a consumer forwards.
//!
//! Two inputs: what the subscriber *wants* (preferred layers, set by the
//! application) and how much bitrate it *may use* (a cap, fed by a bandwidth
//! allocator). One more fact comes from the producer: which layers are live
//! and what each costs. The output is a target; the consumer moves to it at
//! the next keyframe of the target (spatial) or at a frame boundary
//! (temporal), so the subscriber's decoder never sees a broken reference.

/// A spatial and a temporal layer index (0 = lowest).
///
/// For simulcast the spatial index is the encoding's position in
/// `a=simulcast` (Chromium's `q;h;f` → 0, 1, 2) or, without rids, in
/// `a=ssrc-group:SIM`; for SVC it is the spatial id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Layers {
    /// Spatial layer or simulcast encoding.
    pub spatial: u8,
    /// Temporal layer.
    pub temporal: u8,
}

impl Layers {
    /// The highest layers there are.
    pub const MAX: Layers = Layers {
        spatial: u8::MAX,
        temporal: u8::MAX,
    };

    /// Layers `spatial`, `temporal`.
    pub fn new(spatial: u8, temporal: u8) -> Self {
        Layers { spatial, temporal }
    }
}

/// What the selector knows about one spatial layer of the producer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LayerState {
    pub live: bool,
    pub bitrate_bps: u64,
}

#[derive(Debug)]
pub(crate) struct LayerSelector {
    preferred: Layers,
    /// The host's ceiling ([`ConsumerApi::set_max_bitrate`](crate::ConsumerApi::set_max_bitrate)).
    host_cap: Option<u64>,
    /// The bandwidth allocator's share.
    allocated_cap: Option<u64>,
    target: Layers,
}

impl LayerSelector {
    pub(crate) fn new(preferred: Layers, layers: &[LayerState]) -> Self {
        let mut s = LayerSelector {
            preferred,
            host_cap: None,
            allocated_cap: None,
            target: Layers::new(0, preferred.temporal),
        };
        s.target.spatial = s.pick(layers).unwrap_or(0);
        s
    }

    pub(crate) fn preferred(&self) -> Layers {
        self.preferred
    }

    pub(crate) fn target(&self) -> Layers {
        self.target
    }

    /// What the subscriber wants. Returns whether the target changed.
    pub(crate) fn set_preferred(&mut self, preferred: Layers, layers: &[LayerState]) -> bool {
        self.preferred = preferred;
        self.update(layers)
    }

    /// The host's ceiling for this subscriber (`None`: no cap). Returns
    /// whether the target changed.
    pub(crate) fn set_max_bitrate(&mut self, bps: Option<u64>, layers: &[LayerState]) -> bool {
        self.host_cap = bps;
        self.update(layers)
    }

    /// The allocator's share (`None`: no cap). It combines with the host's
    /// ceiling, the lower wins; neither overwrites the other. Returns
    /// whether the target changed.
    pub(crate) fn set_allocated(&mut self, bps: Option<u64>, layers: &[LayerState]) -> bool {
        self.allocated_cap = bps;
        self.update(layers)
    }

    /// The host's ceiling.
    pub(crate) fn host_cap(&self) -> Option<u64> {
        self.host_cap
    }

    /// The cap in force: the lower of the host's and the allocator's.
    fn cap(&self) -> Option<u64> {
        match (self.host_cap, self.allocated_cap) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The highest spatial layer the subscriber would take if bandwidth
    /// were plentiful: its preference, lowered to what the host's ceiling
    /// allows (`bitrates` per layer, `None` when not live).
    pub(crate) fn wanted_spatial(&self, bitrates: &[Option<u64>]) -> u8 {
        let mut top = self.preferred.spatial;
        if let Some(cap) = self.host_cap {
            while top > 0
                && bitrates
                    .get(top as usize)
                    .is_none_or(|b| b.is_none_or(|b| b > cap))
            {
                top -= 1;
            }
        }
        top
    }

    /// Recompute the target from the producer's layers. Returns whether it
    /// changed.
    pub(crate) fn update(&mut self, layers: &[LayerState]) -> bool {
        let old = self.target;
        if let Some(s) = self.pick(layers) {
            self.target.spatial = s;
        }
        self.target.temporal = self.preferred.temporal;
        self.target != old
    }

    /// The best live spatial layer not above the preference that fits the
    /// cap; if none fits, the lowest live one; if none is live, no change.
    fn pick(&self, layers: &[LayerState]) -> Option<u8> {
        if layers.len() <= 1 {
            return Some(0);
        }
        let top = (self.preferred.spatial as usize).min(layers.len() - 1);
        let cap = self.cap();
        let fits = |l: &LayerState| cap.is_none_or(|m| l.bitrate_bps <= m);
        (0..=top)
            .rev()
            .find(|&i| layers[i].live && fits(&layers[i]))
            .or_else(|| (0..layers.len()).find(|&i| layers[i].live))
            .map(|i| i as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(bitrates: &[u64]) -> Vec<LayerState> {
        bitrates
            .iter()
            .map(|&b| LayerState {
                live: true,
                bitrate_bps: b,
            })
            .collect()
    }

    #[test]
    fn prefers_highest_allowed_live_layer() {
        let mut l = live(&[150_000, 500_000, 1_500_000]);
        let mut s = LayerSelector::new(Layers::MAX, &l);
        assert_eq!(s.target().spatial, 2);
        assert!(s.set_preferred(Layers::new(1, 2), &l));
        assert_eq!(s.target(), Layers::new(1, 2));
        // The preferred layer dies: fall back to the best live lower one.
        l[1].live = false;
        assert!(s.update(&l));
        assert_eq!(s.target().spatial, 0);
        l[1].live = true;
        assert!(s.update(&l));
        assert_eq!(s.target().spatial, 1);
        // A cap below the layer's bitrate moves it down.
        assert!(s.set_max_bitrate(Some(200_000), &l));
        assert_eq!(s.target().spatial, 0);
        // Even below the lowest layer, the lowest live one stays (pausing is the allocator's call).
        assert!(!s.set_max_bitrate(Some(1_000), &l));
        assert_eq!(s.target().spatial, 0);
    }
}
