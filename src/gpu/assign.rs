//! Host side of `shaders/assign.wgsl`: the forward auction with ε-scaling for many small
//! assignment problems at once, one workgroup per problem. CPU twin:
//! [`crate::assign::solve_auction`], which the kernel mirrors bid for bid in f32
//! ([`cpu_options`] gives the twin the kernel's ε schedule).
//!
//! Rounds. One dispatch runs a bounded amount of work per problem and saves its state in
//! the scratch buffer; the host dispatches rounds until every problem is done
//! ([`AuctionKernel::solve_batch`] does this, reading back only the outcomes between
//! submissions). The bound keeps dispatches short, and is needed on llvmpipe (lavapipe),
//! which silently ends every loop of an invocation after 65 535 loop iterations in all.
//!
//! Precision. The kernel works in f32 on the problem's own costs. They are not rescaled
//! on the host: f32's relative precision does not depend on the scale, and dividing by it
//! would only round the costs once more. ε is relative to the problem's cost scale
//! `s = max |cost|` (over allowed costs and `miss`):
//! `ε_final = max(RELATIVE_BOUND / n, MIN_RELATIVE_EPSILON) × s`, n being the size of the
//! padded square problem (`rows + cols` with `miss`, else `max(rows, cols)`). The
//! auction's ε-complementary slackness puts the total within `n·ε_final` of the optimum;
//! f32 rounds each price update by at most about 1.5 ulps of the prices (the kernel keeps
//! them below `50 s`, so under 9e-6 s, less than ε_final) and each cost by at most 6e-8 s,
//! so the bound we state is twice the auction's: `bound = 2·n·ε_final`, in the costs' own
//! units ([`GpuAuctionSolution::bound`]). For the pipeline's normalised costs (s = 1) and
//! n ≤ 100 that is 2e-3; for scipy's 500 × 500 reference problem (s = 100) it is 1.0.

use std::time::Instant;

use super::{GpuContext, cast_vec};
use crate::assign::auction::check_feasible;
use crate::assign::problems::{BenchLine, NamedProblem};
use crate::assign::{AuctionOptions, Problem, Solution, Solver};
use crate::error::{Error, Result};

/// Costs at or above this are forbidden pairs (WGSL may assume there are no infinities).
/// Keep in sync with `FORBIDDEN` in shaders/assign.wgsl.
pub const FORBIDDEN: f32 = 1e30;

/// Largest |cost| (and |miss|) the kernel accepts: far below [`FORBIDDEN`], so that cost
/// plus price stays finite and below it.
pub const MAX_COST: f64 = 1e18;

/// ε schedule of the kernel; keep in sync with shaders/assign.wgsl.
pub const RELATIVE_BOUND: f32 = 1e-3;
pub const MIN_RELATIVE_EPSILON: f32 = 1e-5;
pub const SCALING: f32 = 4.0;

/// Threads per problem on CPU adapters (llvmpipe): one 8-lane SIMD vector, which is
/// fastest there (every further vector of a workgroup costs a coroutine switch at each
/// barrier). Measured on lavapipe, reference batch / 500 random problems / 20 000 tiny
/// problems: 8 threads 0.6 / 0.7 / 1.2 s, 32 threads 1.4 / 3.0 / 4.8 s, 64 threads
/// 2.2 / 7.5 / 9.7 s; one thread 0.9 s for the random batch.
pub const CPU_WORKGROUP: u32 = 8;

/// Threads per problem on GPUs: one warp (NVIDIA), one wave32 (AMD RDNA), a multiple of
/// Apple's SIMD width. Barriers within one warp are cheap, and the pipeline's problems
/// (up to about 30 candidates per bid) take one step of the scan. Not measured (no GPU
/// at hand).
pub const GPU_WORKGROUP: u32 = 32;

/// Largest workgroup the kernel supports (`MAX_WG` in the WGSL).
pub const MAX_WORKGROUP: u32 = 64;

/// Default cap on bids per person of the padded problem (scipy's reference problems need
/// at most ~80): beyond it the problem fails with [`Error::Numeric`] instead of running on.
pub const DEFAULT_BIDS_PER_PERSON: u32 = 10_000;

/// Loop iterations per round: under llvmpipe's limit of 65 535, with room for the round's
/// last action (at most 2 · 1024 iterations, see [`AuctionKernel::max_padded`]) and for
/// error in the kernel's count (which ran up to 65 000 without tripping the limit).
pub const DEFAULT_WORK_PER_ROUND: u32 = 50_000;

/// Loop iterations of a problem's setup (`rows × cols` costs over the workgroup) and of
/// one bid (n candidates) are limited to these, so that one round always fits.
const SETUP_ITERATIONS: u32 = 32_768;
const BID_ITERATIONS: u32 = 1_024;

/// Scratch words of a problem's saved state; keep in sync with `STATE_WORDS`.
const STATE_WORDS: u32 = 12;

/// Outcome codes; keep in sync with shaders/assign.wgsl. 0: no round reached the problem.
const STATUS_OK: u32 = 1;
const STATUS_RUNNING: u32 = 2;
const STATUS_BID_CAP: u32 = 3;
const STATUS_NO_COLUMN: u32 = 4;
const STATUS_PRICE_LIMIT: u32 = 5;

/// Keep in sync with `struct Params` in shaders/assign.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AuctionParams {
    pub count: u32,
    /// The bid cap of a problem is this × its padded size n (saturating).
    pub bids_per_person: u32,
    /// Loop iterations one round may run per problem.
    pub work_per_round: u32,
    pub _pad: u32,
}

/// One problem of a batch. Keep in sync with `struct Problem` in shaders/assign.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuProblem {
    pub rows: u32,
    pub cols: u32,
    /// Index in the cost buffer of the first of the row-major `rows × cols` costs.
    pub cost_offset: u32,
    /// Index in the output buffer of row 0's column (one i32 per row: column or -1).
    pub row_offset: u32,
    /// Index in the scratch buffer of this problem's [`GpuProblem::scratch_words`] words,
    /// which must be zero before the first round.
    pub scratch_offset: u32,
    /// 1: a row may stay unassigned at cost `miss`; 0: every row (or every column, when
    /// there are fewer) is assigned, as scipy's `linear_sum_assignment`.
    pub has_miss: u32,
    pub miss: f32,
    pub _pad: u32,
}

impl GpuProblem {
    /// Size n of the padded square problem (as `pad` in the CPU twin).
    pub fn padded_size(&self) -> u32 {
        if self.has_miss != 0 {
            self.rows + self.cols
        } else {
            self.rows.max(self.cols)
        }
    }

    /// Scratch the kernel needs: its saved state, then prices, owners and the FIFO of
    /// unassigned persons.
    pub fn scratch_words(&self) -> u32 {
        STATE_WORDS + 3 * self.padded_size()
    }
}

/// What the kernel reports per problem after each round. Keep in sync with
/// `struct Outcome`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuOutcome {
    pub status: u32,
    pub bids: u32,
    pub phases: u32,
    /// ε of the current (at the end, the last) phase, in the costs' units.
    pub epsilon: f32,
}

impl GpuOutcome {
    /// True while the problem needs more rounds.
    pub fn running(&self) -> bool {
        self.status == STATUS_RUNNING
    }

    /// The status as a result; `what` names the problem.
    pub fn check(&self, what: &str) -> Result<()> {
        match self.status {
            STATUS_OK => Ok(()),
            STATUS_BID_CAP => Err(Error::Numeric(format!(
                "GPU auction of {what} did not converge within {} bids (ε = {:e})",
                self.bids - 1,
                self.epsilon
            ))),
            STATUS_NO_COLUMN => Err(Error::Infeasible(format!(
                "GPU auction of {what}: a row has no allowed column"
            ))),
            STATUS_PRICE_LIMIT => Err(Error::Numeric(format!(
                "GPU auction of {what}: prices grew beyond what f32 resolves at ε = {:e}",
                self.epsilon
            ))),
            STATUS_RUNNING => Err(Error::Gpu(format!(
                "GPU auction of {what} needs more rounds ({} bids so far)",
                self.bids
            ))),
            0 => Err(Error::Gpu(format!(
                "GPU auction of {what} was not run (outcome left at zero)"
            ))),
            s => Err(Error::Gpu(format!(
                "GPU auction of {what}: unknown status {s}"
            ))),
        }
    }
}

/// Headers and buffer sizes (in elements) of a batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchLayout {
    pub problems: Vec<GpuProblem>,
    /// f32 costs.
    pub costs: u32,
    /// i32 outputs (one per row).
    pub rows: u32,
    /// u32 scratch words.
    pub scratch: u32,
}

impl BatchLayout {
    /// Appends a `rows × cols` problem (with `miss`, if any) after those already laid out.
    /// Errors: a batch beyond 32-bit indices ([`Error::Config`]); see also
    /// [`AuctionKernel::check_size`].
    pub fn push(&mut self, rows: usize, cols: usize, miss: Option<f32>) -> Result<()> {
        let too_large = || {
            Error::Config(format!(
                "assignment batch too large for the GPU's 32-bit indices (at a {rows} × {cols} \
                 problem)"
            ))
        };
        let r = u32::try_from(rows).map_err(|_| too_large())?;
        let c = u32::try_from(cols).map_err(|_| too_large())?;
        // The padded size and the scratch words must fit too.
        r.checked_add(c)
            .and_then(|n| n.checked_mul(3))
            .and_then(|w| w.checked_add(STATE_WORDS))
            .ok_or_else(too_large)?;
        let p = GpuProblem {
            rows: r,
            cols: c,
            cost_offset: self.costs,
            row_offset: self.rows,
            scratch_offset: self.scratch,
            has_miss: u32::from(miss.is_some()),
            miss: miss.unwrap_or(0.0),
            _pad: 0,
        };
        self.costs = r
            .checked_mul(c)
            .and_then(|k| k.checked_add(self.costs))
            .ok_or_else(too_large)?;
        self.rows = self.rows.checked_add(r).ok_or_else(too_large)?;
        self.scratch = self
            .scratch
            .checked_add(p.scratch_words())
            .ok_or_else(too_large)?;
        self.problems.push(p);
        Ok(())
    }

    /// The largest of the batch's buffers, in bytes.
    pub fn max_binding_bytes(&self) -> u64 {
        let headers = (self.problems.len() * size_of::<GpuProblem>()) as u64;
        let words = [self.costs, self.rows, self.scratch].map(u64::from);
        headers.max(4 * words.into_iter().max().unwrap_or(0))
    }
}

/// A GPU solution with what the kernel reports about it.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuAuctionSolution {
    /// The assignment, its total in f64 from the original costs.
    pub solution: Solution,
    /// ε of the last phase (costs' units).
    pub epsilon: f64,
    /// `optimum ≤ solution.total ≤ optimum + bound`: `2·n·ε` (n·ε from the auction, doubled
    /// for f32 rounding; see the module documentation).
    pub bound: f64,
    pub bids: u32,
    pub phases: u32,
}

/// Options under which the CPU twin runs the kernel's ε schedule: the same first ε (half
/// the cost scale), the same scaling and the last ε the kernel reported.
pub fn cpu_options(epsilon_final: f64) -> AuctionOptions {
    AuctionOptions {
        epsilon_final: Some(epsilon_final),
        epsilon_initial: None,
        scaling: f64::from(SCALING),
        ..AuctionOptions::default()
    }
}

/// The compiled kernel.
pub struct AuctionKernel {
    pipeline: wgpu::ComputePipeline,
    workgroup: u32,
    /// See [`AuctionParams::bids_per_person`].
    pub bids_per_person: u32,
    /// See [`AuctionParams::work_per_round`]; above 65 535 breaks llvmpipe.
    pub work_per_round: u32,
}

impl AuctionKernel {
    /// The kernel with the workgroup size for the adapter: [`CPU_WORKGROUP`] on a CPU
    /// (llvmpipe), else [`GPU_WORKGROUP`].
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        let size = if ctx.is_cpu_device() {
            CPU_WORKGROUP
        } else {
            GPU_WORKGROUP
        };
        Self::with_workgroup(ctx, size)
    }

    /// The kernel with `size` threads per problem: a power of two up to
    /// [`MAX_WORKGROUP`].
    pub fn with_workgroup(ctx: &GpuContext, size: u32) -> Result<Self> {
        if !(size.is_power_of_two() && size <= MAX_WORKGROUP) {
            return Err(Error::Config(format!(
                "GPU auction workgroup size must be a power of two up to {MAX_WORKGROUP}, \
                 got {size}"
            )));
        }
        Ok(AuctionKernel {
            pipeline: ctx.pipeline_with_constants(
                "assign",
                include_str!("../../shaders/assign.wgsl"),
                "main",
                &[("AUCTION_WG", f64::from(size))],
            )?,
            workgroup: size,
            bids_per_person: DEFAULT_BIDS_PER_PERSON,
            work_per_round: DEFAULT_WORK_PER_ROUND,
        })
    }

    /// Threads per problem.
    pub fn workgroup(&self) -> u32 {
        self.workgroup
    }

    /// Largest `rows × cols` a problem may have: its setup must fit one round.
    pub fn max_costs(&self) -> usize {
        (SETUP_ITERATIONS * self.workgroup) as usize
    }

    /// Largest padded size n (`rows + cols` with `miss`, else the larger): one bid must
    /// fit one round.
    pub fn max_padded(&self) -> usize {
        (BID_ITERATIONS * self.workgroup) as usize
    }

    /// [`Error::Config`] for a problem beyond [`Self::max_costs`] or [`Self::max_padded`].
    pub fn check_size(&self, rows: usize, cols: usize, has_miss: bool) -> Result<()> {
        let n = if has_miss {
            rows.saturating_add(cols)
        } else {
            rows.max(cols)
        };
        if rows.saturating_mul(cols) > self.max_costs() || n > self.max_padded() {
            return Err(Error::Config(format!(
                "a {rows} × {cols} assignment problem{} is beyond the GPU auction's limits \
                 with {} threads per problem ({} costs, padded size {})",
                if has_miss { " with miss" } else { "" },
                self.workgroup,
                self.max_costs(),
                self.max_padded()
            )));
        }
        Ok(())
    }

    /// The params of a batch of `problem_count` problems.
    pub fn params(&self, problem_count: u32) -> AuctionParams {
        AuctionParams {
            count: problem_count,
            bids_per_person: self.bids_per_person,
            work_per_round: self.work_per_round,
            _pad: 0,
        }
    }

    /// Records one round, one workgroup per problem (a 2-D grid beyond the per-dimension
    /// limit). `buffers` are the kernel's bindings in order: params ([`AuctionParams`],
    /// uniform), problems ([`GpuProblem`]), costs (f32, [`FORBIDDEN`] for forbidden pairs;
    /// may be written by an earlier kernel of the same submission), assigned (i32 per
    /// row: column or -1), outcomes ([`GpuOutcome`] per problem) and scratch
    /// ([`BatchLayout::scratch`] words, zero before the first round). Record it as many
    /// times as rounds are wanted; the caller turns each outcome into a result with
    /// [`GpuOutcome::check`] (a problem still running needs more rounds).
    pub fn record(
        &self,
        ctx: &GpuContext,
        rec: &mut super::Recorder,
        buffers: [&wgpu::Buffer; 6],
        problem_count: u32,
    ) {
        let bind = ctx.bind(&self.pipeline, &buffers);
        super::dispatch_workgroups(
            ctx,
            rec,
            super::Kernel::Assign,
            &self.pipeline,
            &bind,
            problem_count,
        );
    }

    /// Solves `problems` on the GPU: one batch per set of problems that fits the adapter's
    /// binding size (usually one in all), rounds until all are done. Errors: an invalid
    /// problem, a cost beyond [`MAX_COST`] ([`Error::Numeric`]), a problem beyond the
    /// kernel's limits ([`Error::Config`]), an infeasible problem ([`Error::Infeasible`],
    /// found on the host before upload), a problem that does not converge
    /// ([`Error::Numeric`]), or a GPU failure.
    pub fn solve_batch(&self, ctx: &GpuContext, problems: &[Problem]) -> Result<Vec<Solution>> {
        Ok(self
            .solve_batch_detailed(ctx, problems)?
            .into_iter()
            .map(|s| s.solution)
            .collect())
    }

    /// [`Self::solve_batch`] with ε, bound and bid counts.
    pub fn solve_batch_detailed(
        &self,
        ctx: &GpuContext,
        problems: &[Problem],
    ) -> Result<Vec<GpuAuctionSolution>> {
        for (k, problem) in problems.iter().enumerate() {
            check_problem(problem)
                .and_then(|()| self.check_size(problem.rows, problem.cols, problem.miss.is_some()))
                .map_err(|e| in_problem(e, k))?;
        }
        let mut out = Vec::with_capacity(problems.len());
        let mut start = 0;
        while start < problems.len() {
            // As many problems as fit the binding size, at least one.
            let mut layout = BatchLayout::default();
            let mut end = start;
            while end < problems.len() {
                let p = &problems[end];
                let mut next = layout.clone();
                next.push(p.rows, p.cols, p.miss.map(|m| m as f32))
                    .map_err(|e| in_problem(e, end))?;
                if next.max_binding_bytes() > ctx.max_binding_bytes {
                    if end == start {
                        return Err(Error::Config(format!(
                            "assignment problem {end} ({} × {}) needs more than the GPU's \
                             {} bytes per buffer",
                            p.rows, p.cols, ctx.max_binding_bytes
                        )));
                    }
                    break;
                }
                layout = next;
                end += 1;
            }
            out.extend(self.run_batch(ctx, &problems[start..end], &layout, start)?);
            start = end;
        }
        Ok(out)
    }

    fn run_batch(
        &self,
        ctx: &GpuContext,
        problems: &[Problem],
        layout: &BatchLayout,
        first: usize,
    ) -> Result<Vec<GpuAuctionSolution>> {
        let mut costs = Vec::with_capacity(layout.costs as usize);
        for p in problems {
            costs.extend(
                p.cost
                    .iter()
                    .map(|&c| if c.is_finite() { c as f32 } else { FORBIDDEN }),
            );
        }
        let count = layout.problems.len() as u32;
        let params = self.params(count);
        let pa = ctx.uniform("assign params", bytemuck::bytes_of(&params))?;
        let pr = ctx.storage("assign problems", bytemuck::cast_slice(&layout.problems))?;
        let co = ctx.storage("assign costs", bytemuck::cast_slice(&costs))?;
        let assigned = ctx.storage_empty("assigned", 4 * u64::from(layout.rows))?;
        let outcomes = ctx.storage_empty(
            "assign outcomes",
            (problems.len() * size_of::<GpuOutcome>()) as u64,
        )?;
        // New buffers are zeroed, as the first round needs.
        let scratch = ctx.storage_empty("assign scratch", 4 * u64::from(layout.scratch))?;
        let buffers = [&pa, &pr, &co, &assigned, &outcomes, &scratch];
        // Most problems finish in the first round; double the rounds per submission for
        // those that do not.
        let mut rounds = 1;
        let outcomes: Vec<GpuOutcome> = loop {
            let mut encoder = ctx.encoder();
            for _ in 0..rounds {
                self.record(ctx, &mut encoder, buffers, count);
            }
            let bytes = ctx.submit_and_read(encoder, &[&outcomes])?;
            let read: Vec<GpuOutcome> = cast_vec(&bytes[0]);
            if !read.iter().any(GpuOutcome::running) {
                break read;
            }
            rounds = (rounds * 2).min(16);
        };
        let bytes = ctx.submit_and_read(ctx.encoder(), &[&assigned])?;
        let columns: Vec<i32> = cast_vec(&bytes[0]);
        problems
            .iter()
            .zip(&layout.problems)
            .enumerate()
            .map(|(k, (problem, header))| {
                let outcome = outcomes
                    .get(k)
                    .ok_or_else(|| Error::Gpu("assign outcomes read back short".into()))?;
                let what = format!("problem {}", first + k);
                outcome.check(&what)?;
                let start = header.row_offset as usize;
                let cols = columns
                    .get(start..start + problem.rows)
                    .ok_or_else(|| Error::Gpu("assignments read back short".into()))?;
                let row_to_col = decode(problem, cols, &what)?;
                let epsilon = f64::from(outcome.epsilon);
                Ok(GpuAuctionSolution {
                    solution: problem.solution(row_to_col),
                    epsilon,
                    bound: 2.0 * f64::from(header.padded_size()) * epsilon,
                    bids: outcome.bids,
                    phases: outcome.phases,
                })
            })
            .collect()
    }
}

/// What the CPU would reject, plus what f32 cannot hold.
fn check_problem(problem: &Problem) -> Result<()> {
    problem.validate()?;
    let too_large = problem
        .cost
        .iter()
        .chain(&problem.miss)
        .find(|c| c.is_finite() && c.abs() > MAX_COST);
    if let Some(c) = too_large {
        return Err(Error::Numeric(format!(
            "cost {c} is beyond the GPU auction's range (|cost| ≤ {MAX_COST:e})"
        )));
    }
    check_feasible(problem)
}

/// Names problem `k` of the batch in an error about it.
fn in_problem(e: Error, k: usize) -> Error {
    match e {
        Error::Numeric(m) => Error::Numeric(format!("assignment problem {k}: {m}")),
        Error::Infeasible(m) => Error::Infeasible(format!("problem {k}: {m}")),
        Error::Config(m) => Error::Config(format!("assignment problem {k}: {m}")),
        other => other,
    }
}

/// The kernel's columns as an assignment, checked: a column out of range, a column used
/// twice or an incomplete assignment without `miss` is a kernel fault.
fn decode(problem: &Problem, cols: &[i32], what: &str) -> Result<Vec<Option<usize>>> {
    let mut used = vec![false; problem.cols];
    let mut row_to_col = Vec::with_capacity(cols.len());
    for &c in cols {
        let col = match usize::try_from(c) {
            Ok(j) if j < problem.cols && !used[j] => {
                used[j] = true;
                Some(j)
            }
            Err(_) if c == -1 => None,
            _ => {
                return Err(Error::Gpu(format!(
                    "GPU auction of {what} returned an invalid assignment (column {c})"
                )));
            }
        };
        row_to_col.push(col);
    }
    let assigned = row_to_col.iter().filter(|c| c.is_some()).count();
    if problem.miss.is_none() && assigned != problem.rows.min(problem.cols) {
        return Err(Error::Gpu(format!(
            "GPU auction of {what} left rows unassigned without a cost of non-assignment"
        )));
    }
    Ok(row_to_col)
}

/// `trackcorr bench assign --backend gpu`: solves all `problems` in one batch with the
/// auction and shares the batch's wall time (upload, rounds, read-back; not the adapter's
/// start or the kernel's compilation) among them in proportion to `rows × cols`.
/// [`Error::Config`] for the exact solver, which has no GPU version.
pub fn run_bench(problems: &[NamedProblem], solver: Solver) -> Result<Vec<BenchLine>> {
    if solver != Solver::Auction {
        return Err(Error::Config(format!(
            "the GPU backend runs the auction; use --solver auction (not {solver})"
        )));
    }
    let ctx = GpuContext::new(&super::GpuOptions::default())?;
    let kernel = AuctionKernel::new(&ctx)?;
    let batch: Vec<Problem> = problems.iter().map(|n| n.problem.clone()).collect();
    let started = Instant::now();
    let solutions = kernel.solve_batch(&ctx, &batch)?;
    let seconds = started.elapsed().as_secs_f64();
    // Every problem gets a share, even an empty one.
    let size = |p: &Problem| (p.rows * p.cols).max(1) as f64;
    let total: f64 = batch.iter().map(size).sum();
    Ok(problems
        .iter()
        .zip(solutions)
        .map(|(named, solution)| BenchLine {
            name: named.name.clone(),
            total: solution.total,
            assigned: solution.assigned(),
            seconds: seconds * size(&named.problem) / total,
        })
        .collect())
}
