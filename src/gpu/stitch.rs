//! Host side of `shaders/stitch.wgsl`. CPU twin: [`crate::stitch::cost`].

use super::timing::KernelTimes;
use super::{GpuContext, GpuTrack, Kernel, cast_vec, dispatch};
use crate::error::Result;
use crate::propagate::{MotionModel, Propagation};
use crate::stitch::{Candidate, StitchParams as Options};

/// Keep in sync with `struct Params` in shaders/stitch.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct StitchParams {
    pub origin: [f32; 4],
    pub q: f32,
    pub max_step: f32,
    pub model: u32,
    pub count: u32,
    /// 2: the loop over the two sides takes its length from here (see the shader).
    pub sides: u32,
    pub _pad: [u32; 3],
}

/// Keep in sync with `struct Candidate` in shaders/stitch.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuCandidate {
    pub dt_end: f32,
    pub dt_start: f32,
    pub dim: u32,
    pub _pad: u32,
}

/// Candidates one submission holds: each thread runs two RK4 predictions over up to a
/// couple of minutes, so a submission stays well inside a desktop watchdog.
const MAX_PER_SUBMISSION: usize = 1 << 16;

/// The compiled kernel.
pub struct Stitcher {
    pipeline: wgpu::ComputePipeline,
}

impl Stitcher {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        Ok(Stitcher {
            pipeline: ctx.pipeline(
                "stitch",
                &format!(
                    "{}\n{}",
                    super::BALLISTIC_WGSL,
                    include_str!("../../shaders/stitch.wgsl")
                ),
                "main",
            )?,
        })
    }

    /// d² of each candidate. Estimates are made relative to their mean position, so that
    /// f32 keeps sub-metre resolution.
    pub fn costs(
        &self,
        ctx: &GpuContext,
        cands: &[Candidate],
        stitch: &Options,
        propagation: &Propagation,
    ) -> Result<(Vec<f64>, Option<KernelTimes>)> {
        let mut out = Vec::with_capacity(cands.len());
        let mut kernel_times: Option<KernelTimes> = None;
        for batch in cands.chunks(MAX_PER_SUBMISSION) {
            let mut origin = [0.0; 3];
            for c in batch {
                for k in 0..3 {
                    origin[k] += (c.end.state[k] + c.start.state[k]) / (2 * batch.len()) as f64;
                }
            }
            let ends: Vec<GpuTrack> = batch
                .iter()
                .map(|c| GpuTrack::from_f64(&c.end.state, &c.end.cov, &origin))
                .collect();
            let starts: Vec<GpuTrack> = batch
                .iter()
                .map(|c| GpuTrack::from_f64(&c.start.state, &c.start.cov, &origin))
                .collect();
            let jobs: Vec<GpuCandidate> = batch
                .iter()
                .map(|c| GpuCandidate {
                    dt_end: (c.at - c.end.time) as f32,
                    dt_start: (c.at - c.start.time) as f32,
                    dim: c.dim() as u32,
                    _pad: 0,
                })
                .collect();
            let params = StitchParams {
                origin: [origin[0] as f32, origin[1] as f32, origin[2] as f32, 0.0],
                q: stitch.q as f32,
                max_step: propagation.max_step as f32,
                model: match propagation.model {
                    MotionModel::ConstantVelocity => 0,
                    MotionModel::Ballistic => 1,
                },
                count: batch.len() as u32,
                sides: 2,
                _pad: [0; 3],
            };
            let p = ctx.uniform("stitch params", bytemuck::bytes_of(&params))?;
            let e = ctx.storage("stitch ends", bytemuck::cast_slice(&ends))?;
            let s = ctx.storage("stitch starts", bytemuck::cast_slice(&starts))?;
            let j = ctx.storage("stitch candidates", bytemuck::cast_slice(&jobs))?;
            let d = ctx.storage_empty("stitch d2", (batch.len() * size_of::<f32>()) as u64)?;
            let mut rec = ctx.encoder();
            let bind = ctx.bind(&self.pipeline, &[&p, &e, &s, &j, &d]);
            dispatch(
                ctx,
                &mut rec,
                Kernel::Stitch,
                &self.pipeline,
                &bind,
                batch.len() as u32,
            );
            let (bytes, timed) = ctx.submit_and_read_timed(rec, &[&d])?;
            if let Some(k) = timed {
                kernel_times.get_or_insert_default().add(&k);
            }
            let d2: Vec<f32> = cast_vec(&bytes[0]);
            // The kernel's FORBIDDEN (1e30) is a failed factorisation, as the CPU's infinity.
            out.extend(d2.iter().take(batch.len()).map(|&v| {
                if v >= 1e29 {
                    f64::INFINITY
                } else {
                    f64::from(v)
                }
            }));
        }
        Ok((out, kernel_times))
    }
}
