//! Bertsekas' forward auction with ε-scaling, Gauss–Seidel (one bid at a time) form.
//!
//! References: D. P. Bertsekas, "The auction algorithm: a distributed relaxation method for
//! the assignment problem", Annals of OR 14 (1988); D. P. Bertsekas, *Network
//! Optimization: Continuous and Discrete Models* (1998), ch. 7.
//!
//! In the minimising form used here, person (row) `i` values object (column) `j` at
//! `c[i][j] + p[j]`, `p` being the object prices. An unassigned person bids for its best
//! object `j*` (value `w1`), raising `p[j*]` by `w2 - w1 + ε` (`w2`: second-best value)
//! and displacing the previous owner. Every assigned person then satisfies ε-complementary
//! slackness (its object is within ε of its best), so the final complete assignment costs
//! at most `optimum + n·ε` (n: persons of the padded square problem). ε-scaling runs phases
//! with ε shrinking by `scaling` down to `epsilon_final`, keeping the prices between phases.
//!
//! The code is written to be mirrored by a WGSL compute shader (one workgroup per problem):
//! flat arrays, plain loops, no recursion or maps, and deterministic tie-breaking (the
//! lowest object index wins among equal values; unassigned persons bid in FIFO order).

use super::{Problem, Solution};
use crate::error::{Error, Result};

const NONE: usize = usize::MAX;

/// Default `epsilon_final` relative to the cost scale: ε = this × max|cost| / n, so the
/// optimality bound `n·ε` is this fraction of the largest cost.
pub const DEFAULT_RELATIVE_BOUND: f64 = 1e-9;

/// Smallest ε relative to the cost scale: below this, `p + ε` can round back to `p` once
/// prices reach a few times the largest cost, and bidding would stop making progress.
const MIN_RELATIVE_EPSILON: f64 = 1e-13;

/// Options of [`solve_auction`].
#[derive(Clone, Debug, PartialEq)]
pub struct AuctionOptions {
    /// ε of the last phase. `None`: `DEFAULT_RELATIVE_BOUND × max|cost| / n`, so that the
    /// bound `n·ε` is 1e-9 of the largest finite cost (floored at `1e-13 × max|cost|`).
    pub epsilon_final: Option<f64>,
    /// ε of the first phase. `None`: half the largest finite |cost|.
    pub epsilon_initial: Option<f64>,
    /// Factor by which ε shrinks from one phase to the next (> 1).
    pub scaling: f64,
    /// Limit on the total number of bids over all phases; exceeding it is an
    /// [`Error::Numeric`].
    pub max_iterations: usize,
}

impl Default for AuctionOptions {
    fn default() -> Self {
        AuctionOptions {
            epsilon_final: None,
            epsilon_initial: None,
            scaling: 4.0,
            max_iterations: 100_000_000,
        }
    }
}

/// Result of [`solve_auction`].
#[derive(Clone, Debug, PartialEq)]
pub struct AuctionSolution {
    pub solution: Solution,
    /// ε of the last phase.
    pub epsilon: f64,
    /// Optimality bound `n·ε` (n: size of the padded square problem):
    /// `optimum ≤ solution.total ≤ optimum + bound`, up to floating-point rounding.
    pub bound: f64,
    /// Bids made over all phases.
    pub iterations: usize,
    /// ε-scaling phases run.
    pub phases: usize,
}

/// The problem padded to a square `n × n` matrix on which every person must be assigned.
/// Persons `0..rows` and objects `0..cols` are the real ones; see [`pad`].
struct Square {
    n: usize,
    cost: Vec<f64>,
}

/// Pads `problem` to a square problem with the same optimum:
/// - `miss = G`: `n = rows + cols`. Object `cols + i` is row `i`'s private "unassigned"
///   object at cost `G` (forbidden to other rows). Dummy person `rows + k` stands for
///   column `k`: it takes column `k` when no row does, or else the unassigned object of a
///   row that column `k` may be paired with (all at cost 0). Every partial assignment
///   thus completes to a perfect one, and keeping dummy persons this sparse (rather than
///   allowing them everything) avoids long price wars between the many identical dummies.
/// - no `miss`, `rows ≤ cols`: `cols - rows` dummy persons, cost 0 for every object.
/// - no `miss`, `rows > cols`: `rows - cols` dummy objects, cost 0 for every person.
fn pad(problem: &Problem) -> Square {
    let (rows, cols) = (problem.rows, problem.cols);
    let Some(miss) = problem.miss else {
        // Dummy persons and dummy objects cost 0 everywhere.
        let n = rows.max(cols);
        let mut cost = vec![0.0; n * n];
        for i in 0..rows {
            cost[i * n..i * n + cols].copy_from_slice(&problem.cost[i * cols..(i + 1) * cols]);
        }
        return Square { n, cost };
    };
    let n = rows + cols;
    let mut cost = vec![f64::INFINITY; n * n];
    for i in 0..rows {
        let line = &mut cost[i * n..(i + 1) * n];
        line[..cols].copy_from_slice(&problem.cost[i * cols..(i + 1) * cols]);
        line[cols + i] = miss;
    }
    for k in 0..cols {
        let line = &mut cost[(rows + k) * n..(rows + k + 1) * n];
        line[k] = 0.0;
        for i in 0..rows {
            if problem.cost[i * cols + k].is_finite() {
                line[cols + i] = 0.0;
            }
        }
    }
    Square { n, cost }
}

/// Solves `problem` by the auction algorithm. Errors: an invalid problem or options
/// ([`Error::Config`] / [`Error::Numeric`]), [`Error::Infeasible`] when the forbidden pairs
/// leave no complete assignment, [`Error::Numeric`] when `max_iterations` bids do not
/// suffice.
pub fn solve_auction(problem: &Problem, opts: &AuctionOptions) -> Result<AuctionSolution> {
    problem.validate()?;
    if !(opts.scaling > 1.0 && opts.scaling.is_finite()) {
        return Err(Error::Config(format!(
            "auction ε scaling factor must be a finite number > 1, got {}",
            opts.scaling
        )));
    }
    for (name, eps) in [
        ("epsilon_final", opts.epsilon_final),
        ("epsilon_initial", opts.epsilon_initial),
    ] {
        if let Some(eps) = eps
            && !(eps > 0.0 && eps.is_finite())
        {
            return Err(Error::Config(format!(
                "auction {name} must be a finite number > 0, got {eps}"
            )));
        }
    }
    check_feasible(problem)?;

    let square = pad(problem);
    let n = square.n;
    let mut finite = problem
        .cost
        .iter()
        .copied()
        .chain(problem.miss)
        .filter(|c| c.is_finite());
    let (mut lo, mut hi) = (0.0_f64, 0.0_f64);
    for c in finite.by_ref() {
        lo = lo.min(c);
        hi = hi.max(c);
    }
    let scale = match hi.max(-lo) {
        0.0 => 1.0,
        s => s,
    };
    // Price rise of a bid for a person's only allowed object: as if a second object
    // existed at the worst possible value.
    let lone_bid = hi - lo;

    let eps_final = opts.epsilon_final.unwrap_or_else(|| {
        (DEFAULT_RELATIVE_BOUND * scale / n.max(1) as f64).max(MIN_RELATIVE_EPSILON * scale)
    });
    let mut eps = opts.epsilon_initial.unwrap_or(scale / 2.0).max(eps_final);

    let mut price = vec![0.0; n];
    let mut object_of = vec![NONE; n];
    let mut owner_of = vec![NONE; n];
    let mut queue = vec![0; n];
    let mut iterations = 0;
    let mut phases = 0;
    loop {
        phases += 1;
        run_phase(
            &square,
            eps,
            lone_bid,
            &mut price,
            &mut object_of,
            &mut owner_of,
            &mut queue,
            &mut iterations,
            opts.max_iterations,
        )?;
        if eps <= eps_final {
            break;
        }
        eps = (eps / opts.scaling).max(eps_final);
    }

    let row_to_col = object_of[..problem.rows]
        .iter()
        .map(|&j| (j < problem.cols).then_some(j))
        .collect();
    Ok(AuctionSolution {
        solution: problem.solution(row_to_col),
        epsilon: eps,
        bound: n as f64 * eps,
        iterations,
        phases,
    })
}

/// [`Error::Infeasible`] when the forbidden pairs leave no complete assignment, on which
/// the auction would bid forever; only forbidden pairs without `miss` can make one. Also
/// run by the GPU host before upload.
pub fn check_feasible(problem: &Problem) -> Result<()> {
    if problem.miss.is_none() && problem.cost.iter().any(|c| c.is_infinite()) {
        let needed = problem.rows.min(problem.cols);
        let found = max_matching(problem);
        if found < needed {
            return Err(Error::Infeasible(format!(
                "the allowed pairs of the {} × {} cost matrix admit at most {found} of the \
                 {needed} required pairs",
                problem.rows, problem.cols
            )));
        }
    }
    Ok(())
}

/// One ε-phase: starts with nobody assigned (keeping the prices) and auctions until every
/// person holds an object.
#[allow(clippy::too_many_arguments)] // flat state, as the shader will have it
fn run_phase(
    square: &Square,
    eps: f64,
    lone_bid: f64,
    price: &mut [f64],
    object_of: &mut [usize],
    owner_of: &mut [usize],
    queue: &mut [usize],
    iterations: &mut usize,
    max_iterations: usize,
) -> Result<()> {
    let n = square.n;
    object_of.fill(NONE);
    owner_of.fill(NONE);
    // Circular FIFO of unassigned persons; it never holds more than n.
    for (k, slot) in queue.iter_mut().enumerate() {
        *slot = k;
    }
    let mut head = 0;
    let mut len = n;
    while len > 0 {
        let i = queue[head];
        head = (head + 1) % n;
        len -= 1;

        *iterations += 1;
        if *iterations > max_iterations {
            return Err(Error::Numeric(format!(
                "auction did not converge within {max_iterations} bids (ε = {eps:e})"
            )));
        }

        // Best and second-best value; strict `<` keeps the lowest index on ties.
        let line = &square.cost[i * n..(i + 1) * n];
        let mut best = NONE;
        let mut w1 = f64::INFINITY;
        let mut w2 = f64::INFINITY;
        for (j, &c) in line.iter().enumerate() {
            if c == f64::INFINITY {
                continue;
            }
            let value = c + price[j];
            if value < w1 {
                w2 = w1;
                w1 = value;
                best = j;
            } else if value < w2 {
                w2 = value;
            }
        }
        if best == NONE {
            // Cannot happen after the feasibility check; kept as an error, not a panic.
            return Err(Error::Infeasible(format!("row {i} has no allowed column")));
        }
        let rise = if w2 == f64::INFINITY {
            lone_bid + eps
        } else {
            w2 - w1 + eps
        };
        price[best] += rise;

        let previous = owner_of[best];
        owner_of[best] = i;
        object_of[i] = best;
        if previous != NONE {
            object_of[previous] = NONE;
            queue[(head + len) % n] = previous;
            len += 1;
        }
    }
    Ok(())
}

/// Size of a maximum matching over the allowed (finite-cost) pairs, by breadth-first
/// augmenting paths from each unmatched row (flat arrays, no recursion).
fn max_matching(problem: &Problem) -> usize {
    let (rows, cols) = (problem.rows, problem.cols);
    let allowed = |i: usize, j: usize| problem.cost[i * cols + j].is_finite();
    let mut col_of = vec![NONE; rows];
    let mut row_of = vec![NONE; cols];
    // Greedy start: most rows are matched without any search.
    for (i, col) in col_of.iter_mut().enumerate() {
        if let Some(j) = (0..cols).find(|&j| allowed(i, j) && row_of[j] == NONE) {
            *col = j;
            row_of[j] = i;
        }
    }
    let mut via = vec![NONE; cols]; // row from which the search reached each column
    let mut seen = vec![NONE; cols]; // search (start row) that last reached each column
    let mut queue = Vec::with_capacity(rows);
    for start in 0..rows {
        if col_of[start] != NONE {
            continue;
        }
        queue.clear();
        queue.push(start);
        let mut head = 0;
        let mut free = NONE;
        'search: while head < queue.len() {
            let i = queue[head];
            head += 1;
            for j in 0..cols {
                if !allowed(i, j) || seen[j] == start {
                    continue;
                }
                seen[j] = start;
                via[j] = i;
                if row_of[j] == NONE {
                    free = j;
                    break 'search;
                }
                queue.push(row_of[j]);
            }
        }
        // Flip the alternating path ending at the free column.
        let mut j = free;
        while j != NONE {
            let i = via[j];
            let next = col_of[i];
            col_of[i] = j;
            row_of[j] = i;
            j = next;
        }
    }
    col_of.iter().filter(|&&j| j != NONE).count()
}
