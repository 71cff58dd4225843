//! The template dependency structure (AV1 RTP specification §A.8.2,
//! `template_dependency_structure()`), which a descriptor attaches on key
//! frames and later descriptors refer to by template ID.

use super::bits::{BitReader, BitWriter};
use crate::packet::PacketError;

/// Most templates a structure can hold (template IDs are 6 bits).
pub const MAX_TEMPLATES: usize = 64;
/// Most decode targets (`dt_cnt_minus_one` is 5 bits).
pub const MAX_DECODE_TARGETS: usize = 32;
/// Spatial IDs are below this (AV1 `spatial_id` is 2 bits).
pub const MAX_SPATIAL_IDS: u8 = 4;
/// Temporal IDs are below this (AV1 `temporal_id` is 3 bits).
pub const MAX_TEMPORAL_IDS: u8 = 8;

/// Decode target indication: how a frame relates to a decode target
/// (§A.8.2, table A.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dti {
    /// `-`: no payload for this decode target.
    NotPresent = 0,
    /// `D`: present, and no later frame of the target refers to it.
    Discardable = 1,
    /// `S`: present, and the target can be switched to at this frame.
    Switch = 2,
    /// `R`: present and required.
    Required = 3,
}

impl Dti {
    /// Maps a 2-bit wire value to a DTI.
    pub fn from_bits(bits: u8) -> Dti {
        match bits & 0x03 {
            0 => Dti::NotPresent,
            1 => Dti::Discardable,
            2 => Dti::Switch,
            _ => Dti::Required,
        }
    }
}

/// The maximum render size of a spatial layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RenderResolution {
    /// Width in pixels, 1..=65536.
    pub width: u32,
    /// Height in pixels, 1..=65536.
    pub height: u32,
}

/// One frame dependency template.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FrameDependencyTemplate {
    /// Spatial layer of frames using this template.
    pub spatial_id: u8,
    /// Temporal layer of frames using this template.
    pub temporal_id: u8,
    /// One indication per decode target.
    pub dtis: Vec<Dti>,
    /// Frame number differences to the referenced frames, each 1..=16.
    pub fdiffs: Vec<u8>,
    /// Per chain, the frame number difference to the previous frame in that
    /// chain, each 0..=15.
    pub chain_fdiffs: Vec<u8>,
}

/// A template dependency structure.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FrameDependencyStructure {
    /// Template ID of `templates[0]` (0..=63); IDs wrap modulo 64.
    pub template_id_offset: u8,
    /// Number of decode targets, 1..=32.
    pub decode_target_count: u8,
    /// Number of chains, 0..=`decode_target_count`.
    pub chain_count: u8,
    /// Per decode target, the chain protecting it (empty without chains).
    pub decode_target_protected_by_chain: Vec<u8>,
    /// The templates, ordered by spatial then temporal ID.
    pub templates: Vec<FrameDependencyTemplate>,
    /// Per spatial ID, the maximum render resolution, if signalled.
    pub resolutions: Option<Vec<RenderResolution>>,
}

impl FrameDependencyStructure {
    /// Highest spatial ID among the templates.
    pub fn max_spatial_id(&self) -> u8 {
        self.templates
            .iter()
            .map(|t| t.spatial_id)
            .max()
            .unwrap_or(0)
    }

    /// The `(spatial_id, temporal_id)` of each decode target: the highest
    /// layers of the templates that are present in it (§A.8.2
    /// `decode_target_layers()`).
    pub fn decode_target_layers(&self) -> impl Iterator<Item = (u8, u8)> + '_ {
        (0..usize::from(self.decode_target_count)).map(move |dt| {
            self.templates
                .iter()
                .filter(|t| t.dtis.get(dt).is_some_and(|&d| d != Dti::NotPresent))
                .fold((0, 0), |(s, t), tpl| {
                    (s.max(tpl.spatial_id), t.max(tpl.temporal_id))
                })
        })
    }

    /// Index into `templates` of a template ID, if it names a template.
    pub fn template_index(&self, template_id: u8) -> Option<usize> {
        let index =
            (usize::from(template_id) + 64 - usize::from(self.template_id_offset % 64)) % 64;
        (index < self.templates.len()).then_some(index)
    }

    /// Checks every invariant the wire format needs, so that a descriptor
    /// attaching this structure writes bytes that parse back to it.
    pub fn validate(&self) -> Result<(), PacketError> {
        let dt_count = usize::from(self.decode_target_count);
        let chains = self.chain_count;
        if self.template_id_offset >= 64 {
            return Err(PacketError::OutOfRange("template_id_offset"));
        }
        if dt_count == 0 || dt_count > MAX_DECODE_TARGETS {
            return Err(PacketError::OutOfRange("decode target count"));
        }
        if usize::from(chains) > dt_count {
            return Err(PacketError::OutOfRange("chain count"));
        }
        let protected = &self.decode_target_protected_by_chain;
        let expected = if chains == 0 { 0 } else { dt_count };
        if protected.len() != expected || protected.iter().any(|&c| c >= chains) {
            return Err(PacketError::Malformed("decode_target_protected_by"));
        }
        if self.templates.is_empty() || self.templates.len() > MAX_TEMPLATES {
            return Err(PacketError::OutOfRange("template count"));
        }
        let mut prev: Option<(u8, u8)> = None;
        for t in &self.templates {
            if t.spatial_id >= MAX_SPATIAL_IDS || t.temporal_id >= MAX_TEMPORAL_IDS {
                return Err(PacketError::OutOfRange("template layer"));
            }
            next_layer_idc(prev, (t.spatial_id, t.temporal_id))?;
            prev = Some((t.spatial_id, t.temporal_id));
            if t.dtis.len() != dt_count
                || t.chain_fdiffs.len() != usize::from(chains)
                || t.chain_fdiffs.iter().any(|&c| c > 15)
                || t.fdiffs.iter().any(|&f| !(1..=16).contains(&f))
            {
                return Err(PacketError::Malformed("template fields"));
            }
        }
        if let Some(res) = &self.resolutions {
            if res.len() != usize::from(self.max_spatial_id()) + 1
                || res
                    .iter()
                    .any(|r| !(1..=65536).contains(&r.width) || !(1..=65536).contains(&r.height))
            {
                return Err(PacketError::Malformed("render resolutions"));
            }
        }
        Ok(())
    }

    pub(super) fn read(r: &mut BitReader<'_>) -> Result<Self, PacketError> {
        let template_id_offset = r.u8(6)?;
        let decode_target_count = r.u8(5)? + 1;
        let dt_count = usize::from(decode_target_count);

        // template_layers()
        let mut templates = Vec::new();
        let (mut spatial, mut temporal) = (0u8, 0u8);
        loop {
            if templates.len() == MAX_TEMPLATES {
                return Err(PacketError::LimitExceeded("DD template count"));
            }
            templates.push(FrameDependencyTemplate {
                spatial_id: spatial,
                temporal_id: temporal,
                ..Default::default()
            });
            match r.u8(2)? {
                0 => {}
                1 => temporal += 1,
                2 => (spatial, temporal) = (spatial + 1, 0),
                _ => break,
            }
            if spatial >= MAX_SPATIAL_IDS || temporal >= MAX_TEMPORAL_IDS {
                return Err(PacketError::LimitExceeded("DD layer ID"));
            }
        }
        // template_dtis()
        for t in &mut templates {
            t.dtis = (0..dt_count)
                .map(|_| r.u8(2).map(Dti::from_bits))
                .collect::<Result<_, _>>()?;
        }
        // template_fdiffs()
        for t in &mut templates {
            while r.flag()? {
                t.fdiffs.push(r.u8(4)? + 1);
            }
        }
        // template_chains()
        // ns(33) is below 33, so the count fits in u8.
        let chain_count = r.ns(u32::from(decode_target_count) + 1)? as u8;
        let mut decode_target_protected_by_chain = Vec::new();
        if chain_count > 0 {
            for _ in 0..dt_count {
                decode_target_protected_by_chain.push(r.ns(u32::from(chain_count))? as u8);
            }
            for t in &mut templates {
                t.chain_fdiffs = (0..chain_count)
                    .map(|_| r.u8(4))
                    .collect::<Result<_, _>>()?;
            }
        }
        // resolutions
        let mut structure = FrameDependencyStructure {
            template_id_offset,
            decode_target_count,
            chain_count,
            decode_target_protected_by_chain,
            templates,
            resolutions: None,
        };
        if r.flag()? {
            let layers = usize::from(structure.max_spatial_id()) + 1;
            let mut res = Vec::with_capacity(layers);
            for _ in 0..layers {
                let width = r.bits(16)? + 1;
                let height = r.bits(16)? + 1;
                res.push(RenderResolution { width, height });
            }
            structure.resolutions = Some(res);
        }
        Ok(structure)
    }

    /// Appends the structure's bits; `self` must have passed [`validate`].
    ///
    /// [`validate`]: Self::validate
    pub(super) fn write_bits(&self, w: &mut BitWriter<'_>) -> Result<(), PacketError> {
        self.validate()?;
        w.bits(6, u32::from(self.template_id_offset));
        w.bits(5, u32::from(self.decode_target_count) - 1);
        for pair in self.templates.windows(2) {
            let prev = (pair[0].spatial_id, pair[0].temporal_id);
            let cur = (pair[1].spatial_id, pair[1].temporal_id);
            w.bits(2, u32::from(next_layer_idc(Some(prev), cur)?));
        }
        w.bits(2, 3);
        for t in &self.templates {
            for &dti in &t.dtis {
                w.bits(2, dti as u32);
            }
        }
        for t in &self.templates {
            for &f in &t.fdiffs {
                w.flag(true);
                w.bits(4, u32::from(f) - 1);
            }
            w.flag(false);
        }
        w.ns(
            u32::from(self.decode_target_count) + 1,
            u32::from(self.chain_count),
        );
        if self.chain_count > 0 {
            for &c in &self.decode_target_protected_by_chain {
                w.ns(u32::from(self.chain_count), u32::from(c));
            }
            for t in &self.templates {
                for &c in &t.chain_fdiffs {
                    w.bits(4, u32::from(c));
                }
            }
        }
        w.flag(self.resolutions.is_some());
        for r in self.resolutions.iter().flatten() {
            w.bits(16, r.width - 1);
            w.bits(16, r.height - 1);
        }
        Ok(())
    }
}

/// The `next_layer_idc` that leads from the previous template's layers to
/// `cur`; the first template must be `(0, 0)`.
fn next_layer_idc(prev: Option<(u8, u8)>, cur: (u8, u8)) -> Result<u8, PacketError> {
    let Some((ps, pt)) = prev else {
        return if cur == (0, 0) {
            Ok(0)
        } else {
            Err(PacketError::Malformed("first template must be S0T0"))
        };
    };
    match cur {
        (s, t) if s == ps && t == pt => Ok(0),
        (s, t) if s == ps && t == pt + 1 => Ok(1),
        (s, 0) if s == ps + 1 => Ok(2),
        _ => Err(PacketError::Malformed("templates not in layer order")),
    }
}
