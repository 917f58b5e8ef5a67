//! Host side of `shaders/propagate.wgsl`. CPU twin: [`crate::propagate::propagate`].

use super::{GpuContext, GpuTrack, cast_vec, dispatch};
use crate::error::Result;
use crate::propagate::{MotionModel, Propagation};

/// Keep in sync with `struct Params` in shaders/propagate.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct PropagateParams {
    pub origin: [f32; 4],
    pub q: f32,
    pub max_step: f32,
    pub model: u32,
    pub count: u32,
}

impl PropagateParams {
    pub fn new(p: &Propagation, origin: &[f64; 3], count: u32) -> Self {
        PropagateParams {
            origin: [origin[0] as f32, origin[1] as f32, origin[2] as f32, 0.0],
            q: p.q as f32,
            max_step: p.max_step as f32,
            model: match p.model {
                MotionModel::ConstantVelocity => 0,
                MotionModel::Ballistic => 1,
            },
            count,
        }
    }
}

/// One propagation: report `report` moved by `dt` seconds. Keep in sync with `struct Job`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct PropagateJob {
    pub report: u32,
    pub dt: f32,
}

/// The compiled kernel.
pub struct Propagator {
    pipeline: wgpu::ComputePipeline,
}

impl Propagator {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        Ok(Propagator {
            pipeline: ctx.pipeline(
                "propagate",
                &format!(
                    "{}\n{}",
                    super::BALLISTIC_WGSL,
                    include_str!("../../shaders/propagate.wgsl")
                ),
                "main",
            )?,
        })
    }

    /// Records the dispatch over `count` jobs; `buffers` are the kernel's bindings in order:
    /// params, reports, jobs, out. `out[k]` = `reports[jobs[k].report]` moved by `jobs[k].dt`.
    pub fn record(
        &self,
        ctx: &GpuContext,
        rec: &mut super::Recorder,
        buffers: [&wgpu::Buffer; 4],
        count: u32,
    ) {
        let bind = ctx.bind(&self.pipeline, &buffers);
        dispatch(
            ctx,
            rec,
            super::Kernel::Propagate,
            &self.pipeline,
            &bind,
            count,
        );
    }

    /// Uploads, runs and reads back one batch (for tests and benchmarks).
    pub fn run(
        &self,
        ctx: &GpuContext,
        reports: &[GpuTrack],
        jobs: &[PropagateJob],
        propagation: &Propagation,
        origin: &[f64; 3],
    ) -> Result<Vec<GpuTrack>> {
        let params = PropagateParams::new(propagation, origin, jobs.len() as u32);
        let p = ctx.uniform("propagate params", bytemuck::bytes_of(&params))?;
        let r = ctx.storage("reports", bytemuck::cast_slice(reports))?;
        let j = ctx.storage("jobs", bytemuck::cast_slice(jobs))?;
        let out = ctx.storage_empty("propagated", (jobs.len() * size_of::<GpuTrack>()) as u64)?;
        let mut encoder = ctx.encoder();
        self.record(ctx, &mut encoder, [&p, &r, &j, &out], jobs.len() as u32);
        let bytes = ctx.submit_and_read(encoder, &[&out])?;
        let mut v: Vec<GpuTrack> = cast_vec(&bytes[0]);
        v.truncate(jobs.len());
        Ok(v)
    }
}
