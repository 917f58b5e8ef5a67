//! Host side of the association kernels: `gate.wgsl` (chi-square costs), the auction
//! (`assign.wgsl`, see [`super::assign`]), `merge.wgsl` (cluster update) and `fuse.wgsl`
//! (system-track fusion). CPU twins: [`crate::associate::associate_epoch`] and
//! [`crate::fuse::fuse_all`].
//!
//! A stage is one sensor's tracks at one epoch against the clusters of that epoch: the
//! sequential association of the CPU path, as one (stage, epoch) problem per workgroup.

use super::{GpuContext, cast_vec, dispatch, dispatch_workgroups};
use crate::error::Result;
use crate::fuse::FusionMethod;

/// Keep in sync with `struct Params` in shaders/gate.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GateParams {
    pub problems: u32,
    pub rho: f32,
    pub threshold3: f32,
    pub threshold6: f32,
}

/// One stage of one epoch. Keep in sync with `struct StageProblem` in shaders/common.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct StageProblem {
    /// Global index of the first row's track (rows are consecutive).
    pub row_start: u32,
    pub rows: u32,
    /// Upper bound on the epoch's clusters at this stage: the tracks of earlier stages.
    pub cols: u32,
    pub cost_offset: u32,
    /// Global index of the epoch's first cluster slot.
    pub slot_base: u32,
    /// Index in the counts buffer of the epoch's cluster count before and after the stage.
    pub count_in: u32,
    pub count_out: u32,
    pub _pad: u32,
}

/// Keep in sync with `struct Params` in shaders/merge.wgsl and fuse.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FuseParams {
    pub count: u32,
    pub method: u32,
    pub rho: f32,
    /// `fuse`: the member this dispatch fuses in (0: copy the first).
    pub step: u32,
}

impl FuseParams {
    pub fn new(count: u32, method: FusionMethod, rho: f64) -> Self {
        FuseParams {
            count,
            method: match method {
                FusionMethod::CovarianceIntersection => 0,
                FusionMethod::Independent => 1,
                FusionMethod::BarShalomCampo => 2,
            },
            rho: rho as f32,
            step: 0,
        }
    }
}

/// One system track to fuse: its members are `members[member_start .. + members]`.
/// Keep in sync with `struct Group` in shaders/fuse.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuGroup {
    pub member_start: u32,
    pub members: u32,
}

/// A cost the assignment may not use (WGSL may assume no infinities).
pub const FORBIDDEN: f32 = 1e30;

fn source(kernel: &str) -> String {
    format!("{}\n{kernel}", include_str!("../../shaders/fusion.wgsl"))
}

/// The gate, merge and fuse kernels.
pub struct AssociationKernels {
    gate: wgpu::ComputePipeline,
    merge: wgpu::ComputePipeline,
    fuse: wgpu::ComputePipeline,
}

impl AssociationKernels {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        // Merge and fuse both inline the fusion arithmetic and take the longest to compile
        // (about 2.4 s each on llvmpipe, even from its cache): one on another thread.
        std::thread::scope(|s| {
            let merge = s.spawn(|| {
                ctx.pipeline(
                    "merge",
                    &source(include_str!("../../shaders/merge.wgsl")),
                    "main",
                )
            });
            let fuse = ctx.pipeline(
                "fuse",
                &source(include_str!("../../shaders/fuse.wgsl")),
                "main",
            );
            let gate = ctx.pipeline("gate", include_str!("../../shaders/gate.wgsl"), "main");
            Ok(AssociationKernels {
                gate: gate?,
                merge: super::joined(merge, "merge")?,
                fuse: fuse?,
            })
        })
    }

    /// Gate: bindings params, problems, tracks, track_dim, clusters, cluster_dim, counts,
    /// costs; one workgroup per problem.
    pub fn record_gate(
        &self,
        ctx: &GpuContext,
        rec: &mut super::Recorder,
        buffers: [&wgpu::Buffer; 8],
        problems: u32,
    ) {
        let bind = ctx.bind(&self.gate, &buffers);
        dispatch_workgroups(ctx, rec, super::Kernel::Gate, &self.gate, &bind, problems);
    }

    /// Merge: bindings params, problems, tracks, track_dim, assignment, clusters,
    /// cluster_dim, counts, cluster_of, rows ((problem, row) per thread); one thread per row.
    pub fn record_merge(
        &self,
        ctx: &GpuContext,
        rec: &mut super::Recorder,
        buffers: [&wgpu::Buffer; 10],
        rows: u32,
    ) {
        let bind = ctx.bind(&self.merge, &buffers);
        dispatch(ctx, rec, super::Kernel::Merge, &self.merge, &bind, rows);
    }

    /// Fuse: the groups' members, one per dispatch (`max_members` dispatches). Bindings
    /// groups, members, tracks, fused; each step's params are made here and returned, to
    /// be kept until the submission.
    pub fn record_fuse(
        &self,
        ctx: &GpuContext,
        rec: &mut super::Recorder,
        params: FuseParams,
        buffers: [&wgpu::Buffer; 4],
        max_members: u32,
    ) -> Result<Vec<wgpu::Buffer>> {
        let mut held = Vec::with_capacity(max_members as usize);
        for step in 0..max_members {
            let p = ctx.uniform(
                "fuse params",
                bytemuck::bytes_of(&FuseParams { step, ..params }),
            )?;
            let bind = ctx.bind(
                &self.fuse,
                &[&p, buffers[0], buffers[1], buffers[2], buffers[3]],
            );
            dispatch(
                ctx,
                rec,
                super::Kernel::Fuse,
                &self.fuse,
                &bind,
                params.count,
            );
            held.push(p);
        }
        Ok(held)
    }

    /// Gating costs of `rows` against `clusters`, as one problem (for tests and `verify`):
    /// row-major `rows × clusters`, `d²/gate` or [`FORBIDDEN`].
    pub fn gate_costs(
        &self,
        ctx: &GpuContext,
        rows: &[(super::GpuTrack, u32)],
        clusters: &[(super::GpuTrack, u32)],
        gate: &crate::gate::Gate,
        rho: f64,
    ) -> Result<Vec<f32>> {
        // Slots: the clusters first (slot_base 0), then the rows as tracks.
        let tracks: Vec<super::GpuTrack> = clusters.iter().chain(rows).map(|t| t.0).collect();
        let dims: Vec<u32> = clusters.iter().chain(rows).map(|t| t.1).collect();
        let problem = StageProblem {
            row_start: clusters.len() as u32,
            rows: rows.len() as u32,
            cols: clusters.len() as u32,
            cost_offset: 0,
            slot_base: 0,
            count_in: 0,
            count_out: 1,
            _pad: 0,
        };
        let params = GateParams {
            problems: 1,
            rho: rho as f32,
            threshold3: gate.threshold3 as f32,
            threshold6: gate.threshold6 as f32,
        };
        let p = ctx.uniform("gate params", bytemuck::bytes_of(&params))?;
        let pr = ctx.storage("problems", bytemuck::bytes_of(&problem))?;
        let t = ctx.storage("tracks", bytemuck::cast_slice(&tracks))?;
        let d = ctx.storage("dims", bytemuck::cast_slice(&dims))?;
        let counts = ctx.storage("counts", bytemuck::cast_slice(&[clusters.len() as u32, 0]))?;
        let costs = ctx.storage_empty("costs", (rows.len() * clusters.len() * 4) as u64)?;
        let mut encoder = ctx.encoder();
        self.record_gate(
            ctx,
            &mut encoder,
            [&p, &pr, &t, &d, &t, &d, &counts, &costs],
            1,
        );
        let bytes = ctx.submit_and_read(encoder, &[&costs])?;
        let mut v: Vec<f32> = cast_vec(&bytes[0]);
        v.truncate(rows.len() * clusters.len());
        Ok(v)
    }

    /// Fuses groups of tracks (for tests and `verify`): `groups[g]` lists indices into
    /// `tracks`.
    pub fn fuse_groups(
        &self,
        ctx: &GpuContext,
        tracks: &[super::GpuTrack],
        groups: &[Vec<u32>],
        method: FusionMethod,
        rho: f64,
    ) -> Result<Vec<super::GpuTrack>> {
        let mut headers = Vec::with_capacity(groups.len());
        let mut members = Vec::new();
        for g in groups {
            headers.push(GpuGroup {
                member_start: members.len() as u32,
                members: g.len() as u32,
            });
            members.extend_from_slice(g);
        }
        let params = FuseParams::new(groups.len() as u32, method, rho);
        let max_members = groups.iter().map(Vec::len).max().unwrap_or(0) as u32;
        let h = ctx.storage("groups", bytemuck::cast_slice(&headers))?;
        let m = ctx.storage("members", bytemuck::cast_slice(&members))?;
        let t = ctx.storage("tracks", bytemuck::cast_slice(tracks))?;
        let out = ctx.storage_empty(
            "fused",
            (groups.len() * size_of::<super::GpuTrack>()) as u64,
        )?;
        let mut encoder = ctx.encoder();
        let held = self.record_fuse(ctx, &mut encoder, params, [&h, &m, &t, &out], max_members)?;
        let bytes = ctx.submit_and_read(encoder, &[&out])?;
        drop(held);
        let mut v: Vec<super::GpuTrack> = cast_vec(&bytes[0]);
        v.truncate(groups.len());
        Ok(v)
    }
}
