//! Per-kernel GPU time from timestamp queries.
//!
//! A [`Recorder`] wraps the command encoder of one submission. Every compute pass it opens
//! is tagged with the [`Kernel`] it runs and, when the adapter has `TIMESTAMP_QUERY`, gets
//! a beginning and an end timestamp. The timestamps are resolved and read back with the
//! submission's results (no extra round trip), and summed per kernel. Without the feature
//! the recorder times nothing and the callers keep their wall-clock times.

use super::GpuContext;
use serde::Serialize;

/// The kernels timed separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Propagate,
    Gate,
    Assign,
    Merge,
    Fuse,
    /// The counting technique of `trackcorr history`.
    Count,
    /// One scan of the local trackers of `trackcorr track`.
    Track,
    /// The hand-over test of ended against started system tracks.
    Stitch,
}

/// Seconds of GPU time per kernel, summed over passes (from timestamp queries). Kernels a
/// command does not run are left out of its summary (`history` runs only `count`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct KernelTimes {
    #[serde(skip_serializing_if = "is_zero")]
    pub propagate: f64,
    #[serde(skip_serializing_if = "is_zero")]
    pub gate: f64,
    #[serde(skip_serializing_if = "is_zero")]
    pub assign: f64,
    #[serde(skip_serializing_if = "is_zero")]
    pub merge: f64,
    #[serde(skip_serializing_if = "is_zero")]
    pub fuse: f64,
    /// The counting technique of `trackcorr history`.
    #[serde(skip_serializing_if = "is_zero")]
    pub count: f64,
    /// The local trackers of `trackcorr track`.
    #[serde(skip_serializing_if = "is_zero")]
    pub track: f64,
    /// The hand-over test.
    #[serde(skip_serializing_if = "is_zero")]
    pub stitch: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl KernelTimes {
    fn slot(&mut self, k: Kernel) -> &mut f64 {
        match k {
            Kernel::Propagate => &mut self.propagate,
            Kernel::Gate => &mut self.gate,
            Kernel::Assign => &mut self.assign,
            Kernel::Merge => &mut self.merge,
            Kernel::Fuse => &mut self.fuse,
            Kernel::Count => &mut self.count,
            Kernel::Track => &mut self.track,
            Kernel::Stitch => &mut self.stitch,
        }
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &KernelTimes) {
        self.propagate += other.propagate;
        self.gate += other.gate;
        self.assign += other.assign;
        self.merge += other.merge;
        self.fuse += other.fuse;
        self.count += other.count;
        self.track += other.track;
        self.stitch += other.stitch;
    }

    pub fn total(&self) -> f64 {
        self.propagate
            + self.gate
            + self.assign
            + self.merge
            + self.fuse
            + self.count
            + self.track
            + self.stitch
    }
}

/// Queries per query set: two per pass. Sets are added as passes need them.
const QUERIES_PER_SET: u32 = 256;

/// The encoder of one submission, with the timestamp queries of its passes.
pub struct Recorder {
    encoder: wgpu::CommandEncoder,
    /// `None` when the adapter cannot time passes.
    sets: Option<Vec<wgpu::QuerySet>>,
    passes: Vec<Kernel>,
}

impl Recorder {
    pub(super) fn new(ctx: &GpuContext) -> Recorder {
        Recorder {
            encoder: ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("trackcorr"),
                }),
            sets: ctx.adapter.timestamp_queries.then(Vec::new),
            passes: Vec::new(),
        }
    }

    /// Opens a compute pass running `kernel`, timed when the adapter allows.
    pub fn pass(&mut self, ctx: &GpuContext, kernel: Kernel) -> wgpu::ComputePass<'_> {
        let index = self.passes.len() as u32 * 2;
        self.passes.push(kernel);
        let writes = match &mut self.sets {
            Some(sets) => {
                let set = (index / QUERIES_PER_SET) as usize;
                if set == sets.len() {
                    sets.push(ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                        label: Some("pass timestamps"),
                        ty: wgpu::QueryType::Timestamp,
                        count: QUERIES_PER_SET,
                    }));
                }
                let first = index % QUERIES_PER_SET;
                Some(wgpu::ComputePassTimestampWrites {
                    query_set: &sets[set],
                    beginning_of_pass_write_index: Some(first),
                    end_of_pass_write_index: Some(first + 1),
                })
            }
            None => None,
        };
        self.encoder
            .begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: writes,
            })
    }

    /// The encoder, for copies.
    pub fn encoder(&mut self) -> &mut wgpu::CommandEncoder {
        &mut self.encoder
    }

    /// Records the resolution of the timestamps into a buffer to be read back, and returns
    /// the encoder, that buffer, and the kernel of each pass.
    pub(super) fn finish_timing(
        mut self,
        ctx: &GpuContext,
    ) -> (wgpu::CommandEncoder, Option<(wgpu::Buffer, Vec<Kernel>)>) {
        let Some(sets) = self.sets.filter(|s| !s.is_empty()) else {
            return (self.encoder, None);
        };
        let queries = self.passes.len() as u64 * 2;
        let resolved = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("resolved timestamps"),
            size: sets.len() as u64 * u64::from(QUERIES_PER_SET) * wgpu::QUERY_SIZE as u64,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        for (k, set) in sets.iter().enumerate() {
            let first = k as u64 * u64::from(QUERIES_PER_SET);
            let n = (queries - first).min(u64::from(QUERIES_PER_SET)) as u32;
            // Offsets are multiples of 256 queries × 8 bytes, within the 256-byte alignment.
            self.encoder
                .resolve_query_set(set, 0..n, &resolved, first * wgpu::QUERY_SIZE as u64);
        }
        (self.encoder, Some((resolved, self.passes)))
    }
}

/// Per-kernel seconds from resolved timestamps (`bytes`, two u64 ticks per pass).
pub(super) fn kernel_times(bytes: &[u8], passes: &[Kernel], period_ns: f32) -> KernelTimes {
    let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(bytes);
    let mut t = KernelTimes::default();
    for (k, kernel) in passes.iter().enumerate() {
        let (begin, end) = (ticks[2 * k], ticks[2 * k + 1]);
        // A driver may report an end before the beginning (counter wrap or reordering):
        // count such a pass as zero rather than as years.
        let elapsed = end.saturating_sub(begin);
        *t.slot(*kernel) += elapsed as f64 * f64::from(period_ns) * 1e-9;
    }
    t
}
