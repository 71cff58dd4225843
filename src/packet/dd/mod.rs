//! The dependency descriptor RTP header extension (AV1 RTP specification,
//! appendix A), used by AV1 (and VP9/H.264 in some stacks) to tell an SFU
//! each frame's layers, references and decode-target relations without
//! reading the payload.
//!
//! Layout (bit fields, MSB first, zero-padded to a whole byte):
//!
//! ```text
//! mandatory (3 bytes):  S(1) E(1) template_id(6) frame_number(16)
//! extended (if > 3 bytes):
//!     structure_present(1) active_targets_present(1)
//!     custom_dtis(1) custom_fdiffs(1) custom_chains(1)
//!     [template_dependency_structure]   if structure_present
//!     [active_decode_targets_bitmask]   f(DtCnt) if active_targets_present
//! frame_dependency_definition:
//!     [frame_dti f(2) x DtCnt]          if custom_dtis
//!     [{size f(2), fdiff-1 f(4*size)}* 0] if custom_fdiffs
//!     [frame_chain_fdiff f(8) x chains] if custom_chains
//! ```
//!
//! A descriptor without an attached structure refers to the latest
//! structure of the stream, which the caller keeps and passes to
//! [`DependencyDescriptor::parse`].

mod bits;
mod structure;
#[cfg(test)]
mod tests;

pub use structure::{
    Dti, FrameDependencyStructure, FrameDependencyTemplate, RenderResolution, MAX_DECODE_TARGETS,
    MAX_SPATIAL_IDS, MAX_TEMPLATES, MAX_TEMPORAL_IDS,
};

use crate::packet::PacketError;
use bits::{BitReader, BitWriter};
use smallvec::SmallVec;

/// A parsed dependency descriptor, with the template fields resolved.
///
/// `parse` followed by [`write`](Self::write) and `parse` again yields an
/// equal value (not necessarily the same bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DependencyDescriptor {
    /// First packet of the frame.
    pub start_of_frame: bool,
    /// Last packet of the frame.
    pub end_of_frame: bool,
    /// The template this frame uses (ID, not index).
    pub frame_dependency_template_id: u8,
    /// The frame number, wrapping at 2^16.
    pub frame_number: u16,
    /// The structure carried by this descriptor, if any. It replaces the
    /// stream's current structure.
    pub attached_structure: Option<FrameDependencyStructure>,
    /// Active decode targets (bit `i` = target `i`): `Some` when sent
    /// explicitly, or all ones when a structure is attached.
    pub active_decode_targets_bitmask: Option<u32>,
    /// The DTIs were sent explicitly rather than taken from the template.
    pub custom_dtis: bool,
    /// The fdiffs were sent explicitly.
    pub custom_fdiffs: bool,
    /// The chain fdiffs were sent explicitly.
    pub custom_chains: bool,
    /// The frame's spatial ID (from its template).
    pub spatial_id: u8,
    /// The frame's temporal ID (from its template).
    pub temporal_id: u8,
    /// The frame's indication for each decode target.
    pub dtis: SmallVec<[Dti; 8]>,
    /// Frame number differences to the frames it references (1..=4096).
    pub fdiffs: SmallVec<[u16; 4]>,
    /// Per chain, the frame number difference to the previous chain frame.
    pub chain_fdiffs: SmallVec<[u8; 4]>,
    /// The frame's maximum render resolution, if the structure has them.
    pub resolution: Option<RenderResolution>,
}

fn all_targets(dt_count: u8) -> u32 {
    // dt_count is 1..=32.
    u32::MAX >> (32 - u32::from(dt_count.clamp(1, 32)))
}

impl DependencyDescriptor {
    /// The decode targets of spatial layer `spatial` this frame is a switch
    /// point for (its DTI is `Switch`), one bit per temporal layer: bit `t`
    /// set means a receiver may start the target with temporal layer `t` at
    /// this frame. Bits above the structure's highest temporal layer copy
    /// that layer's bit, so "the highest there is" can be asked for as 7.
    pub fn switch_points(&self, structure: &FrameDependencyStructure, spatial: u8) -> u8 {
        let mut mask = 0u8;
        let mut top = 0u8;
        for (dti, (s, t)) in self.dtis.iter().zip(structure.decode_target_layers()) {
            if s != spatial {
                continue;
            }
            let t = t.min(7);
            top = top.max(t);
            if *dti == Dti::Switch {
                mask |= 1 << t;
            }
        }
        if mask & (1 << top) != 0 {
            mask |= u8::MAX << top;
        }
        mask
    }

    /// Parses a descriptor from the extension element's data.
    ///
    /// `structure` is the stream's latest structure; it is ignored when the
    /// descriptor attaches its own. Fails with
    /// [`PacketError::MissingStructure`] if neither is available, and if the
    /// template ID names no template.
    pub fn parse(
        buf: &[u8],
        structure: Option<&FrameDependencyStructure>,
    ) -> Result<Self, PacketError> {
        if buf.len() < 3 {
            return Err(PacketError::Truncated);
        }
        let mut r = BitReader::new(buf);
        let mut dd = DependencyDescriptor {
            start_of_frame: r.flag()?,
            end_of_frame: r.flag()?,
            frame_dependency_template_id: r.u8(6)?,
            frame_number: r.bits(16)? as u16,
            ..Default::default()
        };
        let mut active_present = false;
        if buf.len() > 3 {
            let structure_present = r.flag()?;
            active_present = r.flag()?;
            dd.custom_dtis = r.flag()?;
            dd.custom_fdiffs = r.flag()?;
            dd.custom_chains = r.flag()?;
            if structure_present {
                let s = FrameDependencyStructure::read(&mut r)?;
                dd.active_decode_targets_bitmask = Some(all_targets(s.decode_target_count));
                dd.attached_structure = Some(s);
            }
        }
        let attached = dd.attached_structure.take();
        let result = dd.read_frame(&mut r, attached.as_ref().or(structure), active_present);
        dd.attached_structure = attached;
        result.map(|()| dd)
    }

    /// Reads the active targets and `frame_dependency_definition()`.
    fn read_frame(
        &mut self,
        r: &mut BitReader<'_>,
        structure: Option<&FrameDependencyStructure>,
        active_present: bool,
    ) -> Result<(), PacketError> {
        let s = structure.ok_or(PacketError::MissingStructure)?;
        if s.decode_target_count == 0 || usize::from(s.decode_target_count) > MAX_DECODE_TARGETS {
            return Err(PacketError::OutOfRange("decode target count"));
        }
        if active_present {
            self.active_decode_targets_bitmask = Some(r.bits(u32::from(s.decode_target_count))?);
        }
        let template = s
            .template_index(self.frame_dependency_template_id)
            .and_then(|i| s.templates.get(i))
            .ok_or(PacketError::Malformed("DD template ID out of range"))?;
        self.spatial_id = template.spatial_id;
        self.temporal_id = template.temporal_id;
        self.dtis = if self.custom_dtis {
            (0..s.decode_target_count)
                .map(|_| r.u8(2).map(Dti::from_bits))
                .collect::<Result<_, _>>()?
        } else {
            template.dtis.iter().copied().collect()
        };
        if self.custom_fdiffs {
            loop {
                let size = r.bits(2)?;
                if size == 0 {
                    break;
                }
                // At most 12 bits, so fdiff <= 4096 fits in u16.
                self.fdiffs.push(r.bits(4 * size)? as u16 + 1);
            }
        } else {
            self.fdiffs = template.fdiffs.iter().map(|&f| u16::from(f)).collect();
        }
        self.chain_fdiffs = if self.custom_chains {
            (0..s.chain_count)
                .map(|_| r.u8(8))
                .collect::<Result<_, _>>()?
        } else {
            template.chain_fdiffs.iter().copied().collect()
        };
        self.resolution = s
            .resolutions
            .as_ref()
            .and_then(|res| res.get(usize::from(self.spatial_id)).copied());
        Ok(())
    }

    /// Serialises the descriptor, appending to `out`.
    ///
    /// `structure` is the stream's current structure, used when none is
    /// attached. DTIs, fdiffs and chain fdiffs are written explicitly when
    /// their `custom_*` flag is set or when they differ from the template's.
    /// Fails if there is no structure, the template ID or layers do not
    /// match it, or a value does not fit its field; `out` is then unchanged.
    pub fn write(
        &self,
        structure: Option<&FrameDependencyStructure>,
        out: &mut Vec<u8>,
    ) -> Result<(), PacketError> {
        let start = out.len();
        let result = self.write_inner(structure, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn write_inner(
        &self,
        structure: Option<&FrameDependencyStructure>,
        out: &mut Vec<u8>,
    ) -> Result<(), PacketError> {
        let attached = self.attached_structure.as_ref();
        let s = attached
            .or(structure)
            .ok_or(PacketError::MissingStructure)?;
        s.validate()?;
        if self.frame_dependency_template_id >= 64 {
            return Err(PacketError::OutOfRange("DD template ID"));
        }
        let template = s
            .template_index(self.frame_dependency_template_id)
            .and_then(|i| s.templates.get(i))
            .ok_or(PacketError::OutOfRange("DD template ID"))?;
        if (template.spatial_id, template.temporal_id) != (self.spatial_id, self.temporal_id) {
            return Err(PacketError::Malformed("DD layers differ from template"));
        }
        let custom_dtis = self.custom_dtis || self.dtis[..] != template.dtis[..];
        let custom_fdiffs = self.custom_fdiffs
            || !self
                .fdiffs
                .iter()
                .copied()
                .eq(template.fdiffs.iter().map(|&f| u16::from(f)));
        let custom_chains =
            self.custom_chains || self.chain_fdiffs[..] != template.chain_fdiffs[..];
        if custom_dtis && self.dtis.len() != usize::from(s.decode_target_count) {
            return Err(PacketError::Malformed("DD DTI count"));
        }
        if custom_chains && self.chain_fdiffs.len() != usize::from(s.chain_count) {
            return Err(PacketError::Malformed("DD chain count"));
        }
        if self.fdiffs.iter().any(|&f| !(1..=4096).contains(&f)) {
            return Err(PacketError::OutOfRange("DD fdiff"));
        }
        let all = all_targets(s.decode_target_count);
        let active = match self.active_decode_targets_bitmask {
            Some(mask) if mask & !all != 0 => {
                return Err(PacketError::OutOfRange("DD active decode targets"))
            }
            Some(mask) if attached.is_some() && mask == all => None,
            mask => mask,
        };
        let extended =
            attached.is_some() || active.is_some() || custom_dtis || custom_fdiffs || custom_chains;

        let mut w = BitWriter::new(out);
        w.flag(self.start_of_frame);
        w.flag(self.end_of_frame);
        w.bits(6, u32::from(self.frame_dependency_template_id));
        w.bits(16, u32::from(self.frame_number));
        if !extended {
            return Ok(());
        }
        w.flag(attached.is_some());
        w.flag(active.is_some());
        w.flag(custom_dtis);
        w.flag(custom_fdiffs);
        w.flag(custom_chains);
        if let Some(a) = attached {
            a.write_bits(&mut w)?;
        }
        if let Some(mask) = active {
            w.bits(u32::from(s.decode_target_count), mask);
        }
        if custom_dtis {
            for &d in &self.dtis {
                w.bits(2, d as u32);
            }
        }
        if custom_fdiffs {
            for &f in &self.fdiffs {
                let v = u32::from(f) - 1;
                let size = match v {
                    0..=0xF => 1,
                    0x10..=0xFF => 2,
                    _ => 3,
                };
                w.bits(2, size);
                w.bits(4 * size, v);
            }
            w.bits(2, 0);
        }
        if custom_chains {
            for &c in &self.chain_fdiffs {
                w.bits(8, u32::from(c));
            }
        }
        Ok(())
    }

    /// The serialised descriptor as a new vector, see [`write`](Self::write).
    pub fn to_vec(
        &self,
        structure: Option<&FrameDependencyStructure>,
    ) -> Result<Vec<u8>, PacketError> {
        let mut out = Vec::new();
        self.write(structure, &mut out)?;
        Ok(out)
    }
}
