//! Host side of `shaders/history.wgsl`: the counting technique of `trackcorr history` for
//! every pair of tracks of every replay of a chunk in one submission. CPU twin:
//! [`crate::history::count_pair`].
//!
//! The host builds the sample, history and block tables, reads back the association ranges
//! (appended in any order through an atomic counter, then sorted), recounts in f64 the few
//! pairs the kernel could not decide in f32, and leaves the one-to-one deconfliction (a
//! recursive assignment over the few conflicting associations of a sensor pair) on the CPU.

use super::{GpuContext, Kernel, cast_vec, dispatch};
use crate::correlate::CpuRerun;
use crate::error::{Error, Result};
use crate::gpu::correlate::{gpu_unless_lost, injected_fault};
use crate::history::{
    self, HistoryCounts, HistoryParams, PairAssociation, ReplayAssociations, ReplayHistory,
};
use std::collections::BTreeMap;

/// Keep in sync with `struct Params` in shaders/history.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct CountParams {
    pub limit2: f32,
    pub confirm: u32,
    pub misses: u32,
    pub blocks: u32,
    pub pairs: u32,
    pub capacity: u32,
    pub _pad: [u32; 2],
}

/// Keep in sync with `struct Sample`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuSample {
    pub hi: [f32; 3],
    pub time: u32,
    pub lo: [f32; 3],
    pub _pad: u32,
}

impl GpuSample {
    /// `rel` (f64, relative to the reference point) as hi + lo.
    pub fn new(rel: [f64; 3], time: u32) -> GpuSample {
        let hi = rel.map(|x| x as f32);
        GpuSample {
            hi,
            time,
            lo: std::array::from_fn(|k| (rel[k] - f64::from(hi[k])) as f32),
            _pad: 0,
        }
    }
}

/// Keep in sync with `struct History`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuHistory {
    pub first: u32,
    pub count: u32,
    pub t_first: u32,
    pub t_last: u32,
}

/// Keep in sync with `struct Block`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuBlock {
    pub pair_first: u32,
    pub a_first: u32,
    pub b_first: u32,
    pub b_count: u32,
}

/// Keep in sync with `struct Range`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuRange {
    pub pair: u32,
    pub start: u32,
    pub end: u32,
    /// 1: recount this pair on the host.
    pub flag: u32,
}

/// What a chunk's kernel run needs to map pair indices back to tracks.
struct ChunkPlan {
    samples: Vec<GpuSample>,
    histories: Vec<GpuHistory>,
    blocks: Vec<GpuBlock>,
    /// Per block: (replay index in the chunk, its first a and b track in the replay).
    block_origin: Vec<(usize, u32, u32)>,
    pairs: u32,
}

/// Steps of the pairs' walks (each pair walks both its histories once) that one submission
/// may hold: a submission stays short, so that a desktop driver's watchdog (2 s on Windows)
/// never resets the device. llvmpipe walks about 4·10⁷ a second on this project's 2-core
/// machine (the 200-replay batch of BENCHMARKS.md, `--epoch-interval 2`: about 9·10⁷ steps,
/// three submissions, 2.0 s of kernel); a GPU, far more.
pub const MAX_CHUNK_PAIR_STEPS: u64 = 1 << 25;

/// The walk steps of every pair of block `b` of `h`: each of its a tracks walks with each of
/// its b tracks.
fn pair_steps(h: &ReplayHistory, b: &history::Block) -> u64 {
    let len = |first: u32, count: u32| -> u64 {
        h.tracks[first as usize..(first + count) as usize]
            .iter()
            .map(|t| t.times.len() as u64)
            .sum()
    };
    u64::from(b.b_count) * len(b.a_first, b.a_count)
        + u64::from(b.a_count) * len(b.b_first, b.b_count)
}

/// The compiled kernel.
pub struct Counter {
    pipeline: wgpu::ComputePipeline,
    /// On a GPU error, count the failed chunk and the rest on the CPU instead of stopping
    /// (`--backend auto`).
    pub cpu_fallback: bool,
    /// Fail this chunk (from 0) as a lost device would; from
    /// [`INJECT_FAULT`](crate::gpu::correlate::INJECT_FAULT).
    pub inject_fault: Option<usize>,
}

/// What [`Counter::associate_with_progress`] gives: each replay's associations, the
/// counts, the kernel's GPU time, and the replays counted on the CPU after a GPU error.
pub type Associated = (
    Vec<ReplayAssociations>,
    HistoryCounts,
    Option<super::KernelTimes>,
    Option<CpuRerun>,
);

impl Counter {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        Ok(Counter {
            pipeline: ctx.pipeline(
                "history",
                include_str!("../../shaders/history.wgsl"),
                "main",
            )?,
            cpu_fallback: false,
            inject_fault: injected_fault(),
        })
    }

    /// Counts, recounts and deconflicts every replay; `chunk_replays` bounds the replays of
    /// one submission (the sample and pair tables are also kept within the binding limit).
    pub fn associate(
        &self,
        ctx: &GpuContext,
        histories: &[ReplayHistory],
        params: &HistoryParams,
        chunk_replays: usize,
    ) -> Result<(
        Vec<ReplayAssociations>,
        HistoryCounts,
        Option<super::KernelTimes>,
    )> {
        let (out, counts, times, _) =
            self.associate_with_progress(ctx, histories, params, chunk_replays, |_, _| {})?;
        Ok((out, counts, times))
    }

    /// [`Self::associate`], calling `progress(done, total)` in replays as chunks finish;
    /// under `cpu_fallback`, a chunk the GPU fails and every later one are counted on the
    /// CPU, and the replays so counted are returned with the error.
    pub fn associate_with_progress(
        &self,
        ctx: &GpuContext,
        histories: &[ReplayHistory],
        params: &HistoryParams,
        chunk_replays: usize,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Associated> {
        params.validate()?;
        let mut counts = history::counts(histories);
        let mut times: Option<super::KernelTimes> = None;
        let mut out = Vec::with_capacity(histories.len());
        let (mut lost, mut rerun_replays) = (None, Vec::new());
        for (k, chunk) in self
            .chunks(ctx, histories, chunk_replays.max(1))?
            .into_iter()
            .enumerate()
        {
            let on_gpu =
                gpu_unless_lost(k, self.inject_fault, self.cpu_fallback, &mut lost, || {
                    self.count_chunk(ctx, chunk, params)
                })?;
            match on_gpu {
                Some((pairs, rechecked, t)) => {
                    counts.rechecked_pairs += rechecked;
                    if let Some(t) = t {
                        times.get_or_insert_with(Default::default).add(&t);
                    }
                    for (h, p) in chunk.iter().zip(pairs) {
                        out.push(history::finish_replay(h, p, params)?);
                    }
                }
                None => {
                    let (mut cpu, _) = history::associate_cpu(chunk, params)?;
                    out.append(&mut cpu);
                    rerun_replays.extend(chunk.iter().map(|h| h.replay));
                }
            }
            progress(out.len(), histories.len());
        }
        let rerun = lost.map(|gpu_error| CpuRerun {
            replays: rerun_replays,
            gpu_error,
        });
        Ok((out, counts, times, rerun))
    }

    /// Splits the batch so that no table of a chunk passes the binding limit.
    fn chunks<'a>(
        &self,
        ctx: &GpuContext,
        histories: &'a [ReplayHistory],
        max_replays: usize,
    ) -> Result<Vec<&'a [ReplayHistory]>> {
        let limit = ctx.max_binding_bytes;
        let mut out = Vec::new();
        let mut start = 0;
        while start < histories.len() {
            let (mut samples, mut pairs, mut steps) = (0u64, 0u64, 0u64);
            let mut end = start;
            while end < histories.len() && end - start < max_replays {
                let h = &histories[end];
                let s: u64 = h.tracks.iter().map(|t| t.times.len() as u64).sum();
                let blocks = h.blocks();
                let p: u64 = blocks
                    .iter()
                    .map(|b| u64::from(b.a_count) * u64::from(b.b_count))
                    .sum();
                let w: u64 = blocks.iter().map(|b| pair_steps(h, b)).sum();
                let too_big = (samples + s) * size_of::<GpuSample>() as u64 > limit
                    || (pairs + p) * size_of::<GpuRange>() as u64 > limit
                    || pairs + p > u64::from(u32::MAX / 2);
                // A replay alone may pass the work budget; it then goes alone.
                if end > start && steps + w > MAX_CHUNK_PAIR_STEPS {
                    break;
                }
                if too_big {
                    if end == start {
                        return Err(Error::Gpu(format!(
                            "replay {} alone has {s} samples and {p} track pairs, more than one \
                             GPU binding holds ({limit} bytes): use --backend cpu",
                            h.replay
                        )));
                    }
                    break;
                }
                samples += s;
                pairs += p;
                steps += w;
                end += 1;
            }
            out.push(&histories[start..end]);
            start = end;
        }
        Ok(out)
    }

    fn plan(chunk: &[ReplayHistory]) -> ChunkPlan {
        let mut plan = ChunkPlan {
            samples: Vec::new(),
            histories: Vec::new(),
            blocks: Vec::new(),
            block_origin: Vec::new(),
            pairs: 0,
        };
        for (ri, h) in chunk.iter().enumerate() {
            // The replay's reference point: its first sample (relative positions are formed
            // in f64, then split into two f32).
            let origin = h
                .tracks
                .iter()
                .find_map(|t| t.pos.first().copied())
                .unwrap_or_default();
            let track_base = plan.histories.len() as u32;
            for t in &h.tracks {
                plan.histories.push(GpuHistory {
                    first: plan.samples.len() as u32,
                    count: t.times.len() as u32,
                    t_first: t.times.first().copied().unwrap_or(0),
                    t_last: t.times.last().copied().unwrap_or(0),
                });
                plan.samples
                    .extend(t.times.iter().zip(&t.pos).map(|(&time, p)| {
                        GpuSample::new(std::array::from_fn(|k| p[k] - origin[k]), time)
                    }));
            }
            for b in h.blocks() {
                plan.blocks.push(GpuBlock {
                    pair_first: plan.pairs,
                    a_first: track_base + b.a_first,
                    b_first: track_base + b.b_first,
                    b_count: b.b_count,
                });
                plan.block_origin.push((ri, b.a_first, b.b_first));
                plan.pairs += b.a_count * b.b_count;
            }
        }
        plan
    }

    /// One submission over a chunk (two when the first run's output overflowed): each
    /// replay's counted pairs, the number of pairs recounted in f64, the kernel time.
    #[allow(
        clippy::type_complexity,
        reason = "a private triple, named at the call"
    )]
    fn count_chunk(
        &self,
        ctx: &GpuContext,
        chunk: &[ReplayHistory],
        params: &HistoryParams,
    ) -> Result<(Vec<Vec<PairAssociation>>, u64, Option<super::KernelTimes>)> {
        let plan = Self::plan(chunk);
        let mut result: Vec<Vec<PairAssociation>> = vec![Vec::new(); chunk.len()];
        if plan.pairs == 0 {
            return Ok((result, 0, None));
        }
        let b_samples = ctx.storage("history samples", bytemuck::cast_slice(&plan.samples))?;
        let b_hist = ctx.storage("histories", bytemuck::cast_slice(&plan.histories))?;
        let b_blocks = ctx.storage("history blocks", bytemuck::cast_slice(&plan.blocks))?;
        let max_ranges = ctx.max_binding_bytes / size_of::<GpuRange>() as u64;
        // Most pairs of a batch are different objects: room for one range per 4 pairs,
        // grown to the exact need if the counter says so.
        let mut capacity = (u64::from(plan.pairs) / 4 + 1024).min(max_ranges);
        let (ranges, kernel_times) = loop {
            let cp = CountParams {
                limit2: (params.threshold * params.threshold / params.measure.weight()) as f32,
                confirm: params.confirm,
                misses: params.misses,
                blocks: plan.blocks.len() as u32,
                pairs: plan.pairs,
                capacity: capacity as u32,
                _pad: [0; 2],
            };
            let b_params = ctx.uniform("history params", bytemuck::bytes_of(&cp))?;
            let b_counter = ctx.storage("history counter", &[0u8; 4])?;
            let b_out =
                ctx.storage_empty("history ranges", capacity * size_of::<GpuRange>() as u64)?;
            let mut rec = ctx.encoder();
            let bind = ctx.bind(
                &self.pipeline,
                &[
                    &b_params, &b_samples, &b_hist, &b_blocks, &b_counter, &b_out,
                ],
            );
            dispatch(
                ctx,
                &mut rec,
                Kernel::Count,
                &self.pipeline,
                &bind,
                plan.pairs,
            );
            let (bytes, t) = ctx.submit_and_read_timed(rec, &[&b_counter, &b_out])?;
            let n = u64::from(cast_vec::<u32>(&bytes[0])[0]);
            if n <= capacity {
                let mut v: Vec<GpuRange> = cast_vec(&bytes[1]);
                v.truncate(n as usize);
                break (v, t);
            }
            if n > max_ranges {
                return Err(Error::Gpu(format!(
                    "{n} association ranges do not fit one GPU binding: use --backend cpu or \
                     fewer replays per chunk"
                )));
            }
            capacity = n;
        };

        // Sort (the atomic counter appends in any order) and group by pair.
        let mut by_pair: BTreeMap<u32, (bool, Vec<(u32, u32)>)> = BTreeMap::new();
        for r in &ranges {
            let e = by_pair.entry(r.pair).or_default();
            if r.flag == 1 {
                e.0 = true;
            } else {
                e.1.push((r.start, r.end));
            }
        }
        let mut rechecked = 0;
        for (pair, (recheck, mut ranges)) in by_pair {
            let blk = plan.blocks.partition_point(|b| b.pair_first <= pair) - 1;
            let local = pair - plan.blocks[blk].pair_first;
            let b_count = plan.blocks[blk].b_count;
            let (ri, a0, b0) = plan.block_origin[blk];
            let (a, b) = (a0 + local / b_count, b0 + local % b_count);
            let h = &chunk[ri];
            if recheck {
                rechecked += 1;
                ranges = history::count_pair(&h.tracks[a as usize], &h.tracks[b as usize], params);
            } else {
                ranges.sort_unstable();
            }
            if !ranges.is_empty() {
                result[ri].push(PairAssociation { a, b, ranges });
            }
        }
        Ok((result, rechecked, kernel_times))
    }
}
