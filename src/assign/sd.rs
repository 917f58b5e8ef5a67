//! S-D (multidimensional) assignment by Lagrangian relaxation, as MATLAB's `assignsd`, made
//! exact by a branch and bound.
//!
//! Why: associating the tracks of S sensors (S ≥ 3) two at a time, as `associate` does, lets
//! an early pairing block a better triple. The S-D assignment decides all sensors at once:
//! dimension s lists sensor s's items (1..=n_s; 0 is the dummy, "none from this sensor"), a
//! sparse list of candidate tuples `[i_1..i_S]` (the gated ones, at least two real items)
//! carries costs relative to "every item alone" (a likely association is negative), and the
//! answer is the set of tuples, plus implicit singletons at cost 0, that covers every real
//! item exactly once at least total cost. It is NP-hard for S ≥ 3, but the problems met
//! here are small (tens of items per dimension, up to thousands of tuples).
//!
//! Method (Deb, Pattipati, Bar-Shalom, "A generalized S-D assignment algorithm for
//! multisensor-multitarget state estimation", IEEE TAES 33(2), 1997):
//! - Tuples of cost ≥ 0 are dropped (splitting one into singletons is never worse), equal
//!   index vectors keep their cheapest entry, and the items fall apart into clusters (items
//!   linked by tuples), each solved on its own.
//! - Relaxation: the constraints of dimensions 3..S get multipliers `u`; what remains is a
//!   2-D assignment of dimension 1 against dimension 2 where a pair `(i1, i2)` costs the
//!   least `c − Σ u` over its tuples and an item left alone its best tuple without the other
//!   dimension (or 0), solved by [`super::solve_exact`]. Its value is a lower bound;
//!   subgradient ascent with Polyak steps towards the best solution found raises it.
//! - Primal recovery, each iteration: the relaxed tuples, cheapest first, are kept where
//!   they do not clash (every item not covered stays alone, which is always allowed); then,
//!   for each dimension s in turn, dimension s's items are re-assigned by a 2-D assignment
//!   to the rest of the chosen tuples (each tuple without its s item), until no dimension
//!   improves. This stands in for the paper's recursive (S−2)-D enforcement problem.
//! - The relaxation stops at the relative gap [`SdParams::gap`] or after
//!   [`SdParams::max_iterations`]; a depth-first branch and bound then closes what is left.
//!   A node is the set of tuples still allowed; it is bounded by the relaxation (warm-started
//!   from its parent, [`NODE_ITERATIONS`] iterations) and branches on one item, preferably a
//!   relaxed one that the last relaxed solution covered 0 or several times, the one in the
//!   fewest tuples: alone, or each of its tuples. Nodes whose bound exceeds the best cost by
//!   more than rounding are cut; past [`SdParams::max_nodes`] the search stops and reports
//!   [`SdSolution::optimal`] `false`.
//!
//! The answer depends only on the problem. A cluster's cost is the sum of its tuples' costs
//! in tuple order (the same bits whatever order the search met them in). Among optima of
//! equal cost the one whose full partition (chosen tuples and singletons, as index vectors,
//! sorted) is lexicographically smallest wins: with the singletons in, no partition is a
//! prefix of another, the order splits over clusters, and splitting a tuple into its
//! singletons always makes the partition smaller, so a tuple of cost 0 is never chosen. To
//! honour ties the search does not stop when the bound meets the best cost; it goes on down
//! to the leaves (cheaply: the other branches fall to their first bound). Permuting the
//! dimensions gives the same tuples and the same cost whenever the solve is optimal, unless
//! different tuple sets tie exactly (then the given dimension order breaks the tie).
//!
//! Two dimensions are accepted too: the relaxation is then exact.

use std::collections::{HashMap, HashSet};

use super::{Problem, solve_exact};
use crate::error::{Error, Result};

/// Marks "no item" (the dummy) and "no tuple" in the flat arrays below.
const NONE: u32 = u32::MAX;

/// Subgradient iterations at each branch-and-bound node below the root (warm-started from
/// the parent's multipliers).
const NODE_ITERATIONS: usize = 20;

/// Iterations without a better bound after which the Polyak factor is halved.
const STALL_ITERATIONS: usize = 4;

/// Rounds over all dimensions of the primal re-assignment.
const REASSIGN_ROUNDS: usize = 3;

/// An S-D assignment problem.
#[derive(Clone, Debug, PartialEq)]
pub struct SdProblem {
    /// `n_s`, the number of real items of each dimension (items are `1..=n_s`, 0 is the
    /// dummy). At least two dimensions.
    pub sizes: Vec<usize>,
    /// Candidate tuples: one index per dimension (0 = dummy) with at least two real items,
    /// and a finite cost relative to all its items alone.
    pub tuples: Vec<(Vec<u32>, f64)>,
}

/// Options of [`solve_sd`].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct SdParams {
    /// Most subgradient iterations of the relaxation at each cluster's root.
    pub max_iterations: usize,
    /// Relative duality gap `(primal − dual) / max(|primal|, 1)` at which the relaxation
    /// stops and the branch and bound takes over.
    pub gap: f64,
    /// Most branch-and-bound nodes per cluster (the root counts); beyond it the best
    /// solution found is returned with `optimal: false`.
    pub max_nodes: usize,
}

impl Default for SdParams {
    fn default() -> Self {
        SdParams {
            max_iterations: 100,
            gap: 0.01,
            max_nodes: 10_000,
        }
    }
}

/// Result of [`solve_sd`].
#[derive(Clone, Debug, PartialEq)]
pub struct SdSolution {
    /// Indices into [`SdProblem::tuples`] of the chosen tuples, ascending; every real item
    /// in none of them stays alone.
    pub chosen: Vec<usize>,
    /// Sum of the chosen tuples' costs, in `chosen` order.
    pub cost: f64,
    /// Best proven lower bound on the optimum: `cost` when `optimal`, otherwise the sum of
    /// the clusters' optima and, for unfinished clusters, their Lagrangian bounds.
    pub lower_bound: f64,
    /// The Lagrangian bound of the relaxation phase alone (summed over the clusters).
    pub lagrangian_bound: f64,
    /// `(cost − lower_bound) / max(|cost|, 1)`, 0 when `optimal`.
    pub gap: f64,
    /// Most relaxations solved in the relaxation phase of any cluster (at least one each).
    pub iterations: usize,
    /// Branch-and-bound nodes over all clusters (one root per cluster).
    pub nodes: usize,
    /// Independent clusters the problem fell into.
    pub clusters: usize,
    /// Whether every cluster's branch and bound finished, i.e. `chosen` is the optimum.
    pub optimal: bool,
}

/// Solves `problem`. Errors: fewer than two dimensions, a tuple of the wrong length, with
/// an index beyond its dimension or with fewer than two real items ([`Error::Config`]); a
/// non-finite cost or costs too large to sum, or an invalid `params.gap`
/// ([`Error::Numeric`]).
pub fn solve_sd(problem: &SdProblem, params: &SdParams) -> Result<SdSolution> {
    if !(params.gap.is_finite() && params.gap >= 0.0) {
        return Err(Error::Numeric(format!(
            "S-D assignment gap is {}; it must be finite and ≥ 0",
            params.gap
        )));
    }
    let kept = validate_and_keep(problem)?;
    let clusters = clusters(problem, &kept)?;

    let mut chosen = Vec::new();
    let mut solution = SdSolution {
        chosen: Vec::new(),
        cost: 0.0,
        lower_bound: 0.0,
        lagrangian_bound: 0.0,
        gap: 0.0,
        iterations: 0,
        nodes: 0,
        clusters: clusters.len(),
        optimal: true,
    };
    for cluster in &clusters {
        let mut search = Search::new(cluster, params);
        let mut u = vec![0.0; cluster.items()];
        search.explore(
            &(0..cluster.tuples.len() as u32).collect::<Vec<_>>(),
            &mut Vec::new(),
            0.0,
            &mut u,
        )?;
        chosen.extend(search.best.iter().map(|&t| cluster.tuples[t as usize].id));
        solution.lagrangian_bound += search.root_bound;
        solution.iterations = solution.iterations.max(search.root_iterations);
        solution.nodes += search.nodes;
        if search.aborted {
            solution.optimal = false;
            solution.lower_bound += search.root_bound;
        } else {
            solution.lower_bound += search.best_cost;
        }
    }
    chosen.sort_unstable();
    solution.cost = chosen.iter().fold(0.0, |sum, &t| sum + problem.tuples[t].1);
    if solution.optimal {
        solution.lower_bound = solution.cost;
    }
    solution.gap = ((solution.cost - solution.lower_bound) / solution.cost.abs().max(1.0)).max(0.0);
    solution.chosen = chosen;
    Ok(solution)
}

/// Checks `problem` and returns the indices of the tuples worth considering: cost < 0, and
/// of several tuples with the same index vector the cheapest (the first on equal cost).
fn validate_and_keep(problem: &SdProblem) -> Result<Vec<usize>> {
    let dims = problem.sizes.len();
    if dims < 2 {
        return Err(Error::Config(format!(
            "an S-D assignment needs at least 2 dimensions, got {dims}"
        )));
    }
    let mut best: HashMap<&[u32], usize> = HashMap::new();
    let mut magnitude = 1.0;
    for (k, (index, cost)) in problem.tuples.iter().enumerate() {
        if index.len() != dims {
            return Err(Error::Config(format!(
                "S-D tuple {k} has {} indices; the problem has {dims} dimensions",
                index.len()
            )));
        }
        for (s, (&i, &n)) in index.iter().zip(&problem.sizes).enumerate() {
            if i as usize > n {
                return Err(Error::Config(format!(
                    "S-D tuple {k}: index {i} of dimension {} is beyond its {n} items",
                    s + 1
                )));
            }
        }
        let real = index.iter().filter(|&&i| i != 0).count();
        if real < 2 {
            return Err(Error::Config(format!(
                "S-D tuple {k} has {real} real items; a candidate needs at least 2 (an item \
                 alone is implicit, at cost 0)"
            )));
        }
        if !cost.is_finite() {
            return Err(Error::Numeric(format!(
                "S-D tuple {k} has cost {cost}; costs must be finite"
            )));
        }
        magnitude += cost.abs();
        if *cost < 0.0 {
            best.entry(index.as_slice())
                .and_modify(|b| {
                    if *cost < problem.tuples[*b].1 {
                        *b = k;
                    }
                })
                .or_insert(k);
        }
    }
    if !f64::is_finite(magnitude) {
        return Err(Error::Numeric(
            "S-D tuple costs are too large to be summed".to_string(),
        ));
    }
    let mut kept: Vec<usize> = best.into_values().collect();
    kept.sort_unstable();
    Ok(kept)
}

/// One candidate tuple of a cluster.
#[derive(Debug)]
struct Tuple {
    /// Index into the problem's tuples.
    id: usize,
    cost: f64,
    /// Per dimension, the cluster's (flat) item, or `NONE` for the dummy.
    at: Vec<u32>,
    /// The problem's index vector, for the tie-break.
    index: Vec<u32>,
}

/// For one dimension s, the tuples with their item of s taken out ("rests"), numbered.
#[derive(Debug)]
struct Rests {
    /// Rest number of each tuple.
    of_tuple: Vec<u32>,
    /// Per rest, the tuple that is exactly that rest (its s index a dummy), or `NONE`.
    whole: Vec<u32>,
    /// Per item outside dimension s, the rest that is that item alone, or `NONE`.
    single: Vec<u32>,
}

/// Items linked by candidate tuples, numbered flat: dimension 1's first, in item order.
#[derive(Debug)]
struct Cluster {
    dims: usize,
    /// First flat item of each dimension, and the item count last (`dims + 1` entries).
    base: Vec<u32>,
    /// Per flat item, its dimension and its number (1-based) in the problem.
    dim_of: Vec<u32>,
    number: Vec<u32>,
    /// In problem order.
    tuples: Vec<Tuple>,
    rests: Vec<Rests>,
    /// Rounding allowance of bounds against costs: 1e-9 of the costs' magnitude.
    tol: f64,
}

impl Cluster {
    fn items(&self) -> usize {
        self.dim_of.len()
    }

    fn size(&self, s: usize) -> usize {
        (self.base[s + 1] - self.base[s]) as usize
    }

    fn cost_of(&self, solution: &[u32]) -> f64 {
        solution
            .iter()
            .fold(0.0, |sum, &t| sum + self.tuples[t as usize].cost)
    }

    fn reduced_cost(&self, t: u32, u: &[f64]) -> f64 {
        let tuple = &self.tuples[t as usize];
        let price: f64 = tuple.at[2..]
            .iter()
            .filter(|&&x| x != NONE)
            .map(|&x| u[x as usize])
            .sum();
        tuple.cost - price
    }

    /// The partition `solution` makes of the cluster's items, as sorted index vectors.
    fn partition(&self, solution: &[u32]) -> Vec<Vec<u32>> {
        let mut covered = vec![false; self.items()];
        let mut parts = Vec::with_capacity(self.items());
        for &t in solution {
            let tuple = &self.tuples[t as usize];
            parts.push(tuple.index.clone());
            for &x in tuple.at.iter().filter(|&&x| x != NONE) {
                covered[x as usize] = true;
            }
        }
        for x in (0..self.items()).filter(|&x| !covered[x]) {
            let mut alone = vec![0; self.dims];
            alone[self.dim_of[x] as usize] = self.number[x];
            parts.push(alone);
        }
        parts.sort_unstable();
        parts
    }
}

/// Splits the kept tuples into clusters of linked items, ordered by their first tuple.
fn clusters(problem: &SdProblem, kept: &[usize]) -> Result<Vec<Cluster>> {
    let dims = problem.sizes.len();
    // Union-find over the items the kept tuples mention.
    let mut node: HashMap<(usize, u32), usize> = HashMap::new();
    let mut parent: Vec<usize> = Vec::new();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let mut first_item = Vec::with_capacity(kept.len());
    for &k in kept {
        let mut first = None;
        for (s, &i) in problem.tuples[k]
            .0
            .iter()
            .enumerate()
            .filter(|(_, i)| **i != 0)
        {
            let next = parent.len();
            let x = *node.entry((s, i)).or_insert(next);
            if x == next {
                parent.push(x);
            }
            match first {
                None => first = Some(x),
                Some(f) => {
                    let (a, b) = (root(&mut parent, f), root(&mut parent, x));
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
        first_item.push(first.unwrap_or(0));
    }
    let mut cluster_of_root: HashMap<usize, usize> = HashMap::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (&k, &x) in kept.iter().zip(&first_item) {
        let r = root(&mut parent, x);
        let c = *cluster_of_root.entry(r).or_insert_with(|| {
            members.push(Vec::new());
            members.len() - 1
        });
        members[c].push(k);
    }
    members
        .iter()
        .map(|tuples| cluster(problem, dims, tuples))
        .collect()
}

/// Builds the cluster of the tuples `ids` (ascending).
fn cluster(problem: &SdProblem, dims: usize, ids: &[usize]) -> Result<Cluster> {
    let mut items: Vec<(u32, u32)> = ids
        .iter()
        .flat_map(|&k| {
            let index = &problem.tuples[k].0;
            (0..dims)
                .filter(|&s| index[s] != 0)
                .map(move |s| (s as u32, index[s]))
        })
        .collect();
    items.sort_unstable();
    items.dedup();
    let too_many = || {
        Error::Config(format!(
            "an S-D cluster of {} items is too large",
            items.len()
        ))
    };
    if items.len() >= NONE as usize || ids.len() >= NONE as usize {
        return Err(too_many());
    }
    let flat: HashMap<(u32, u32), u32> = items
        .iter()
        .enumerate()
        .map(|(x, &item)| (item, x as u32))
        .collect();
    let mut base = vec![0u32; dims + 1];
    for &(s, _) in &items {
        base[s as usize + 1] += 1;
    }
    for s in 0..dims {
        base[s + 1] += base[s];
    }
    let tuples: Vec<Tuple> = ids
        .iter()
        .map(|&k| {
            let (index, cost) = &problem.tuples[k];
            let at = (0..dims)
                .map(|s| match index[s] {
                    0 => NONE,
                    i => flat[&(s as u32, i)],
                })
                .collect();
            Tuple {
                id: k,
                cost: *cost,
                at,
                index: index.clone(),
            }
        })
        .collect();
    let rests = (0..dims).map(|s| rests(&tuples, s, items.len())).collect();
    let magnitude = tuples.iter().fold(1.0, |sum, t| sum + t.cost.abs());
    Ok(Cluster {
        dims,
        base,
        dim_of: items.iter().map(|&(s, _)| s).collect(),
        number: items.iter().map(|&(_, i)| i).collect(),
        tuples,
        rests,
        tol: 1e-9 * magnitude,
    })
}

fn rests(tuples: &[Tuple], s: usize, items: usize) -> Rests {
    let mut number: HashMap<Vec<u32>, u32> = HashMap::new();
    let mut of_tuple = Vec::with_capacity(tuples.len());
    for tuple in tuples {
        let mut rest = tuple.at.clone();
        rest[s] = NONE;
        let next = number.len() as u32;
        of_tuple.push(*number.entry(rest).or_insert(next));
    }
    let mut whole = vec![NONE; number.len()];
    for (t, tuple) in tuples.iter().enumerate() {
        if tuple.at[s] == NONE {
            whole[of_tuple[t] as usize] = t as u32;
        }
    }
    let mut single = vec![NONE; items];
    for (rest, &r) in &number {
        let mut real = rest.iter().filter(|&&x| x != NONE);
        if let (Some(&x), None) = (real.next(), real.next()) {
            single[x as usize] = r;
        }
    }
    Rests {
        of_tuple,
        whole,
        single,
    }
}

/// Minimum-cost 2-D assignment of a dense `rows × cols` matrix (`∞` = forbidden) where a
/// row may stay unassigned at cost 0 and only negative entries are worth taking; returns
/// the total and each row's column. Rows and columns without a negative entry are left out
/// of the exact solver.
fn assign_negative(rows: usize, cols: usize, cost: &[f64]) -> Result<(f64, Vec<u32>)> {
    let mut row_to_col = vec![NONE; rows];
    let live_rows: Vec<usize> = (0..rows)
        .filter(|&i| cost[i * cols..(i + 1) * cols].iter().any(|&c| c < 0.0))
        .collect();
    let live_cols: Vec<usize> = (0..cols)
        .filter(|&j| (0..rows).any(|i| cost[i * cols + j] < 0.0))
        .collect();
    if live_rows.is_empty() {
        return Ok((0.0, row_to_col));
    }
    let mut matrix = Vec::with_capacity(live_rows.len() * live_cols.len());
    for &i in &live_rows {
        matrix.extend(live_cols.iter().map(|&j| {
            let c = cost[i * cols + j];
            if c < 0.0 { c } else { f64::INFINITY }
        }));
    }
    let solution = solve_exact(&Problem {
        rows: live_rows.len(),
        cols: live_cols.len(),
        cost: matrix,
        miss: Some(0.0),
    })?;
    for (k, col) in solution.row_to_col.iter().enumerate() {
        if let Some(j) = col {
            row_to_col[live_rows[k]] = live_cols[*j] as u32;
        }
    }
    Ok((solution.total, row_to_col))
}

/// The relaxed problem's solution at some multipliers.
struct Relaxed {
    /// The dual value: a lower bound on the node's optimum.
    value: f64,
    /// Chosen candidate tuples, ascending (dimension 1 and 2 items at most once each).
    chosen: Vec<u32>,
    /// `1 − (times chosen)` for each active item of dimensions 3..S, as (item, value).
    subgradient: Vec<(u32, f64)>,
    norm2: f64,
}

/// Solves the relaxation of the node (tuples `allowed`, their items `active`) at `u`.
fn relax(cl: &Cluster, allowed: &[u32], active: &[u32], u: &[f64]) -> Result<Relaxed> {
    let (n0, n1) = (cl.size(0), cl.size(1));
    let b1 = cl.base[1] as usize;
    // Best tuple per (i1, i2) pair, and per item of dimensions 1, 2 without the other one
    // (starting from the item alone at 0).
    let mut cell = vec![(f64::INFINITY, NONE); n0 * n1];
    let mut alone = vec![(0.0, NONE); n0 + n1];
    let mut chosen = Vec::new();
    let mut value = 0.0;
    for &t in allowed {
        let rc = cl.reduced_cost(t, u);
        let at = &cl.tuples[t as usize].at;
        let best = match (at[0], at[1]) {
            (NONE, NONE) => {
                if rc < 0.0 {
                    value += rc;
                    chosen.push(t);
                }
                continue;
            }
            (a, NONE) => &mut alone[a as usize],
            (NONE, b) => &mut alone[b as usize],
            (a, b) => &mut cell[a as usize * n1 + (b as usize - b1)],
        };
        if rc < best.0 {
            *best = (rc, t);
        }
    }
    value += alone.iter().map(|a| a.0).sum::<f64>();
    let mut pair = vec![f64::INFINITY; n0 * n1];
    for a in 0..n0 {
        for j in 0..n1 {
            if cell[a * n1 + j].1 != NONE {
                pair[a * n1 + j] = cell[a * n1 + j].0 - alone[a].0 - alone[n0 + j].0;
            }
        }
    }
    let (total, row_to_col) = assign_negative(n0, n1, &pair)?;
    value += total;
    let mut paired = vec![false; n0 + n1];
    for (a, &j) in row_to_col.iter().enumerate() {
        if j != NONE {
            chosen.push(cell[a * n1 + j as usize].1);
            paired[a] = true;
            paired[n0 + j as usize] = true;
        }
    }
    for (x, &(_, t)) in alone.iter().enumerate() {
        if !paired[x] && t != NONE {
            chosen.push(t);
        }
    }
    chosen.sort_unstable();

    // Dimensions 3..S: each item counted over the chosen tuples, plus its singleton (at
    // reduced cost −u) when u > 0.
    let mut count = vec![0u32; cl.items()];
    for &t in &chosen {
        for &x in cl.tuples[t as usize].at[2..].iter().filter(|&&x| x != NONE) {
            count[x as usize] += 1;
        }
    }
    let mut subgradient = Vec::new();
    let mut norm2 = 0.0;
    for &x in active.iter().filter(|&&x| x as usize >= n0 + n1) {
        let ux = u[x as usize];
        value += ux.min(0.0);
        let times = count[x as usize] + u32::from(ux > 0.0);
        let g = 1.0 - f64::from(times);
        norm2 += g * g;
        subgradient.push((x, g));
    }
    Ok(Relaxed {
        value,
        chosen,
        subgradient,
        norm2,
    })
}

/// A feasible solution near the relaxed one: the relaxed tuples cheapest first where they
/// do not clash, then dimension-wise re-assignment (see [`reassign`]) while it helps.
fn primal(cl: &Cluster, allowed: &[u32], active: &[u32], relaxed: &[u32]) -> Result<Vec<u32>> {
    let mut order = relaxed.to_vec();
    order.sort_by(|&a, &b| {
        cl.tuples[a as usize]
            .cost
            .total_cmp(&cl.tuples[b as usize].cost)
            .then(a.cmp(&b))
    });
    let mut used = vec![false; cl.items()];
    let mut solution = Vec::new();
    for t in order {
        let at = &cl.tuples[t as usize].at;
        if at.iter().all(|&x| x == NONE || !used[x as usize]) {
            for &x in at.iter().filter(|&&x| x != NONE) {
                used[x as usize] = true;
            }
            solution.push(t);
        }
    }
    let mut cost = cl.cost_of(&solution);
    for _ in 0..REASSIGN_ROUNDS {
        let mut improved = false;
        for s in 0..cl.dims {
            let next = reassign(cl, s, allowed, active, &solution)?;
            let next_cost = cl.cost_of(&next);
            if next_cost < cost - 1e-12 * (1.0 + cost.abs()) {
                solution = next;
                cost = next_cost;
                improved = true;
            }
        }
        if !improved {
            break;
        }
    }
    solution.sort_unstable();
    Ok(solution)
}

/// Keeps `current` but for dimension `s`: its tuples without their s items, and the items
/// alone outside s, become rows; dimension s's items are assigned to them anew by a 2-D
/// assignment (a row left without one keeps its rest as a tuple if that is a candidate,
/// else its items go alone). `current` itself is one of the choices, so this never costs
/// more.
fn reassign(
    cl: &Cluster,
    s: usize,
    allowed: &[u32],
    active: &[u32],
    current: &[u32],
) -> Result<Vec<u32>> {
    let rests = &cl.rests[s];
    let (lo, ns) = (cl.base[s], cl.size(s));
    let mut covered = vec![false; cl.items()];
    // Row of each rest, and each row's cost and tuple when it gets no item of s.
    let mut row_of = vec![NONE; rests.whole.len()];
    let mut rows: Vec<(f64, u32)> = Vec::new();
    for &c in current {
        let tuple = &cl.tuples[c as usize];
        for &x in tuple.at.iter().filter(|&&x| x != NONE) {
            covered[x as usize] = true;
        }
        let r = rests.of_tuple[c as usize];
        let whole = if tuple.at[s] == NONE {
            c
        } else {
            rests.whole[r as usize]
        };
        let cost = if whole == NONE {
            0.0
        } else {
            cl.tuples[whole as usize].cost
        };
        row_of[r as usize] = rows.len() as u32;
        rows.push((cost, whole));
    }
    for &x in active {
        let r = rests.single[x as usize];
        if !covered[x as usize] && cl.dim_of[x as usize] as usize != s && r != NONE {
            row_of[r as usize] = rows.len() as u32;
            rows.push((0.0, NONE));
        }
    }
    let mut cell = vec![(f64::INFINITY, NONE); rows.len() * ns];
    for &t in allowed {
        let tuple = &cl.tuples[t as usize];
        let row = row_of[rests.of_tuple[t as usize] as usize];
        if tuple.at[s] == NONE || row == NONE {
            continue;
        }
        let best = &mut cell[row as usize * ns + (tuple.at[s] - lo) as usize];
        if tuple.cost < best.0 {
            *best = (tuple.cost, t);
        }
    }
    let mut relative = Vec::with_capacity(cell.len());
    for (row, &(alone, _)) in rows.iter().enumerate() {
        relative.extend(
            cell[row * ns..(row + 1) * ns]
                .iter()
                .map(|&(c, _)| c - alone),
        );
    }
    let (_, row_to_col) = assign_negative(rows.len(), ns, &relative)?;
    let mut next = Vec::with_capacity(rows.len());
    for (row, &j) in row_to_col.iter().enumerate() {
        if j != NONE {
            next.push(cell[row * ns + j as usize].1);
        } else if rows[row].1 != NONE {
            next.push(rows[row].1);
        }
    }
    Ok(next)
}

/// Depth-first branch and bound over one cluster.
struct Search<'c> {
    cl: &'c Cluster,
    params: &'c SdParams,
    /// Best solution so far (ascending tuple numbers) and its cost in that order.
    best: Vec<u32>,
    best_cost: f64,
    nodes: usize,
    aborted: bool,
    root_bound: f64,
    root_iterations: usize,
}

impl<'c> Search<'c> {
    fn new(cl: &'c Cluster, params: &'c SdParams) -> Self {
        Search {
            cl,
            params,
            // Every item alone.
            best: Vec::new(),
            best_cost: 0.0,
            nodes: 0,
            aborted: false,
            root_bound: f64::NEG_INFINITY,
            root_iterations: 0,
        }
    }

    /// Records the solution `parts` (disjoint tuple sets) if it beats the best: lower cost
    /// (summed in tuple order), or equal cost and a lexicographically smaller partition.
    fn offer(&mut self, parts: &[&[u32]]) {
        let mut solution: Vec<u32> = parts.concat();
        solution.sort_unstable();
        let cost = self.cl.cost_of(&solution);
        let better = cost < self.best_cost
            || (cost == self.best_cost
                && solution != self.best
                && self.cl.partition(&solution) < self.cl.partition(&self.best));
        if better {
            self.best = solution;
            self.best_cost = cost;
        }
    }

    /// The node of the tuples `allowed` (ascending), below the choices `chosen` of cost
    /// `chosen_cost`, with multipliers `u` (updated in place).
    fn explore(
        &mut self,
        allowed: &[u32],
        chosen: &mut Vec<u32>,
        chosen_cost: f64,
        u: &mut [f64],
    ) -> Result<()> {
        let cl = self.cl;
        self.nodes += 1;
        let root = self.nodes == 1;
        if allowed.is_empty() {
            self.offer(&[chosen]);
            if root {
                self.root_bound = 0.0;
            }
            return Ok(());
        }
        let mut is_active = vec![false; cl.items()];
        for &t in allowed {
            for &x in cl.tuples[t as usize].at.iter().filter(|&&x| x != NONE) {
                is_active[x as usize] = true;
            }
        }
        let active: Vec<u32> = (0..cl.items() as u32)
            .filter(|&x| is_active[x as usize])
            .collect();

        // Lagrangian relaxation of the node.
        let cap = if root {
            self.params.max_iterations.max(1)
        } else {
            NODE_ITERATIONS
        };
        let mut bound = f64::NEG_INFINITY;
        let mut factor = if root { 2.0 } else { 1.0 };
        let mut stall = 0;
        let mut tried: HashSet<Vec<u32>> = HashSet::new();
        let mut iterations = 0;
        let mut violated = Vec::new();
        loop {
            let relaxed = relax(cl, allowed, &active, u)?;
            iterations += 1;
            violated.clear();
            violated.extend(
                relaxed
                    .subgradient
                    .iter()
                    .filter(|(_, g)| *g != 0.0)
                    .map(|(x, _)| *x),
            );
            if relaxed.value > bound {
                bound = relaxed.value;
                stall = 0;
            } else {
                stall += 1;
                if stall >= STALL_ITERATIONS {
                    factor /= 2.0;
                    stall = 0;
                }
            }
            if tried.insert(relaxed.chosen.clone()) {
                let solution = primal(cl, allowed, &active, &relaxed.chosen)?;
                self.offer(&[chosen, &solution]);
            }
            let target = self.best_cost - chosen_cost;
            let closed = if root {
                target - bound <= self.params.gap * self.best_cost.abs().max(1.0)
            } else {
                bound >= target - cl.tol
            };
            if bound > target + cl.tol || closed || relaxed.norm2 == 0.0 || iterations >= cap {
                break;
            }
            let step = factor * (target - relaxed.value) / relaxed.norm2;
            for &(x, g) in &relaxed.subgradient {
                u[x as usize] += step * g;
            }
        }
        if root {
            self.root_bound = bound;
            self.root_iterations = iterations;
        }
        if chosen_cost + bound > self.best_cost + cl.tol {
            return Ok(());
        }
        if self.nodes >= self.params.max_nodes {
            self.aborted = true;
            return Ok(());
        }

        // Branch on the active item in the fewest tuples: alone, or each of its tuples.
        let mut count = vec![0usize; cl.items()];
        for &t in allowed {
            for &x in cl.tuples[t as usize].at.iter().filter(|&&x| x != NONE) {
                count[x as usize] += 1;
            }
        }
        let candidates = if violated.is_empty() {
            &active
        } else {
            &violated
        };
        let Some(&item) = candidates.iter().min_by_key(|&&x| (count[x as usize], x)) else {
            return Ok(());
        };
        let alone_rc = if cl.dim_of[item as usize] >= 2 {
            -u[item as usize]
        } else {
            0.0
        };
        let mut options: Vec<(f64, u32)> = allowed
            .iter()
            .filter(|&&t| cl.tuples[t as usize].at.contains(&item))
            .map(|&t| (cl.reduced_cost(t, u), t))
            .collect();
        options.push((alone_rc, NONE));
        options.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (_, t) in options {
            if self.aborted || chosen_cost + bound > self.best_cost + cl.tol {
                break;
            }
            let taken: Vec<u32> = if t == NONE {
                vec![item]
            } else {
                cl.tuples[t as usize]
                    .at
                    .iter()
                    .copied()
                    .filter(|&x| x != NONE)
                    .collect()
            };
            let child: Vec<u32> = allowed
                .iter()
                .copied()
                .filter(|&k| !cl.tuples[k as usize].at.iter().any(|x| taken.contains(x)))
                .collect();
            let mut child_u = u.to_vec();
            if t == NONE {
                self.explore(&child, chosen, chosen_cost, &mut child_u)?;
            } else {
                chosen.push(t);
                let cost = chosen_cost + cl.tuples[t as usize].cost;
                self.explore(&child, chosen, cost, &mut child_u)?;
                chosen.pop();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn solve(problem: &SdProblem) -> SdSolution {
        solve_sd(problem, &SdParams::default()).expect("valid problem")
    }

    /// The optimum by enumerating every partition (all tuples, positive costs and
    /// duplicates included), with the documented tie-break: cost summed in tuple order,
    /// then the sorted partition, then the tuple numbers.
    fn brute_force(problem: &SdProblem) -> (Vec<usize>, f64) {
        struct Best {
            cost: f64,
            partition: Vec<Vec<u32>>,
            ids: Vec<usize>,
        }
        fn walk(
            p: &SdProblem,
            covered: &mut Vec<Vec<bool>>,
            ids: &mut Vec<usize>,
            best: &mut Option<Best>,
        ) {
            let first = (0..p.sizes.len())
                .flat_map(|s| (1..=p.sizes[s]).map(move |i| (s, i)))
                .find(|&(s, i)| !covered[s][i]);
            let Some((s, i)) = first else {
                let mut sorted = ids.clone();
                sorted.sort_unstable();
                let cost = sorted.iter().fold(0.0, |sum, &t| sum + p.tuples[t].1);
                let mut partition: Vec<Vec<u32>> =
                    sorted.iter().map(|&t| p.tuples[t].0.clone()).collect();
                let mut used: Vec<Vec<bool>> =
                    p.sizes.iter().map(|&n| vec![false; n + 1]).collect();
                for &t in &sorted {
                    for (s, &i) in p.tuples[t].0.iter().enumerate() {
                        used[s][i as usize] = true;
                    }
                }
                for (s, &n) in p.sizes.iter().enumerate() {
                    for i in 1..=n {
                        if !used[s][i] {
                            let mut alone = vec![0; p.sizes.len()];
                            alone[s] = i as u32;
                            partition.push(alone);
                        }
                    }
                }
                partition.sort_unstable();
                let wins = match best {
                    None => true,
                    Some(b) => (cost, &partition, &sorted) < (b.cost, &b.partition, &b.ids),
                };
                if wins {
                    *best = Some(Best {
                        cost,
                        partition,
                        ids: sorted,
                    });
                }
                return;
            };
            covered[s][i] = true;
            walk(p, covered, ids, best);
            covered[s][i] = false;
            for (t, (index, _)) in p.tuples.iter().enumerate() {
                let fits = index[s] as usize == i
                    && index
                        .iter()
                        .enumerate()
                        .all(|(d, &j)| j == 0 || !covered[d][j as usize]);
                if fits {
                    for (d, &j) in index.iter().enumerate().filter(|(_, j)| **j != 0) {
                        covered[d][j as usize] = true;
                    }
                    ids.push(t);
                    walk(p, covered, ids, best);
                    ids.pop();
                    for (d, &j) in index.iter().enumerate() {
                        if j != 0 {
                            covered[d][j as usize] = false;
                        }
                    }
                }
            }
        }
        let mut covered: Vec<Vec<bool>> =
            problem.sizes.iter().map(|&n| vec![false; n + 1]).collect();
        let mut best = None;
        walk(problem, &mut covered, &mut Vec::new(), &mut best);
        let best = best.expect("all alone is a solution");
        (best.ids, best.cost)
    }

    fn random_problem(
        rng: &mut ChaCha8Rng,
        dims: usize,
        max_size: usize,
        tuples: usize,
        integer: bool,
    ) -> SdProblem {
        let sizes: Vec<usize> = (0..dims).map(|_| rng.random_range(0..=max_size)).collect();
        let mut list = Vec::new();
        for _ in 0..tuples * 20 {
            if list.len() == tuples {
                break;
            }
            let index: Vec<u32> = sizes
                .iter()
                .map(|&n| {
                    if n > 0 && rng.random_bool(0.6) {
                        rng.random_range(1..=n as u32)
                    } else {
                        0
                    }
                })
                .collect();
            if index.iter().filter(|&&i| i != 0).count() < 2 {
                continue;
            }
            let cost = if integer {
                f64::from(rng.random_range(-3..=1))
            } else {
                rng.random_range(-3.0..1.0)
            };
            list.push((index, cost));
        }
        SdProblem {
            sizes,
            tuples: list,
        }
    }

    /// Dimension k of the result is dimension `order[k]` of `problem`.
    fn permute(problem: &SdProblem, order: &[usize]) -> SdProblem {
        SdProblem {
            sizes: order.iter().map(|&s| problem.sizes[s]).collect(),
            tuples: problem
                .tuples
                .iter()
                .map(|(index, cost)| (order.iter().map(|&s| index[s]).collect(), *cost))
                .collect(),
        }
    }

    /// A tracking-like problem: `objects` objects in a square of side `side`, each seen by
    /// each of `sensors` sensors with probability 0.9 at unit position noise, plus `clutter`
    /// false items per sensor; tuples are the combinations whose items lie within 4 of each
    /// other, at cost half their spread minus 6 per item beyond the first. Also returns the
    /// cost of the true association.
    fn tracking_problem(
        rng: &mut ChaCha8Rng,
        sensors: usize,
        objects: usize,
        clutter: usize,
        side: f64,
    ) -> (SdProblem, f64) {
        use rand_distr::{Distribution, StandardNormal};
        let truth: Vec<[f64; 2]> = (0..objects)
            .map(|_| [rng.random_range(0.0..side), rng.random_range(0.0..side)])
            .collect();
        // Per sensor, its items as (position, object or None), in a shuffled order.
        let mut items: Vec<Vec<([f64; 2], Option<usize>)>> = Vec::new();
        for _ in 0..sensors {
            let mut seen = Vec::new();
            for (o, p) in truth.iter().enumerate() {
                if rng.random_bool(0.9) {
                    let noise: [f64; 2] = [StandardNormal.sample(rng), StandardNormal.sample(rng)];
                    seen.push(([p[0] + noise[0], p[1] + noise[1]], Some(o)));
                }
            }
            for _ in 0..clutter {
                seen.push((
                    [rng.random_range(0.0..side), rng.random_range(0.0..side)],
                    None,
                ));
            }
            for k in (1..seen.len()).rev() {
                seen.swap(k, rng.random_range(0..=k));
            }
            items.push(seen);
        }
        let cost_of = |members: &[[f64; 2]]| {
            let m = members.len() as f64;
            let mean = [0, 1].map(|d| members.iter().map(|z| z[d]).sum::<f64>() / m);
            let spread: f64 = members
                .iter()
                .map(|z| (z[0] - mean[0]).powi(2) + (z[1] - mean[1]).powi(2))
                .sum();
            0.5 * spread - 6.0 * (m - 1.0)
        };
        let mut tuples = Vec::new();
        let mut index = vec![0u32; sensors];
        let mut members: Vec<[f64; 2]> = Vec::new();
        fn walk(
            s: usize,
            items: &[Vec<([f64; 2], Option<usize>)>],
            index: &mut Vec<u32>,
            members: &mut Vec<[f64; 2]>,
            out: &mut Vec<(Vec<u32>, f64)>,
            cost_of: &dyn Fn(&[[f64; 2]]) -> f64,
        ) {
            if s == items.len() {
                if members.len() >= 2 {
                    out.push((index.clone(), cost_of(members)));
                }
                return;
            }
            index[s] = 0;
            walk(s + 1, items, index, members, out, cost_of);
            for (k, (z, _)) in items[s].iter().enumerate() {
                if members
                    .iter()
                    .all(|w| (z[0] - w[0]).hypot(z[1] - w[1]) < 4.0)
                {
                    index[s] = k as u32 + 1;
                    members.push(*z);
                    walk(s + 1, items, index, members, out, cost_of);
                    members.pop();
                }
            }
            index[s] = 0;
        }
        walk(0, &items, &mut index, &mut members, &mut tuples, &cost_of);
        let mut true_cost = 0.0;
        for o in 0..objects {
            let seen: Vec<[f64; 2]> = items
                .iter()
                .flat_map(|list| {
                    list.iter()
                        .filter(|(_, obj)| *obj == Some(o))
                        .map(|(z, _)| *z)
                })
                .collect();
            if seen.len() >= 2 {
                true_cost += cost_of(&seen).min(0.0);
            }
        }
        let sizes = items.iter().map(Vec::len).collect();
        (SdProblem { sizes, tuples }, true_cost)
    }

    #[test]
    fn matches_brute_force_on_small_random_problems() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut gaps = 0;
        for case in 0..400 {
            let dims = 3 + case % 2;
            let integer = case % 4 >= 2;
            let count = rng.random_range(0..=14);
            let problem = random_problem(&mut rng, dims, 4, count, integer);
            let (ids, optimum) = brute_force(&problem);
            let solution = solve(&problem);
            assert!(solution.optimal, "case {case}: {problem:?}");
            assert_eq!(solution.cost, optimum, "case {case}: {problem:?}");
            assert_eq!(solution.chosen, ids, "case {case}: {problem:?}");
            assert!(solution.lower_bound <= optimum + 1e-9, "case {case}");
            assert!(
                solution.lagrangian_bound <= optimum + 1e-9,
                "case {case}: {solution:?}"
            );
            gaps += usize::from(solution.lagrangian_bound < optimum - 1e-9);
        }
        // The branch and bound had work to do in some cases.
        assert!(gaps > 0);
    }

    fn assert_same_under(problem: &SdProblem, order: &[usize], reference: &SdSolution) {
        let solution = solve(&permute(problem, order));
        assert!(solution.optimal, "order {order:?}");
        assert_eq!(solution.chosen, reference.chosen, "order {order:?}");
        assert_eq!(
            solution.cost.to_bits(),
            reference.cost.to_bits(),
            "order {order:?}"
        );
    }

    #[test]
    fn dimension_order_does_not_matter() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let orders3 = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for case in 0..40 {
            let problem = random_problem(&mut rng, 3, 6, 40, false);
            let reference = solve(&problem);
            assert!(reference.optimal, "case {case}");
            for order in &orders3 {
                assert_same_under(&problem, order, &reference);
            }
        }
        for dims in 4..=6 {
            for case in 0..15 {
                let problem = random_problem(&mut rng, dims, 6, 60, false);
                let reference = solve(&problem);
                assert!(reference.optimal, "dims {dims} case {case}");
                for _ in 0..4 {
                    let mut order: Vec<usize> = (0..dims).collect();
                    for k in (1..dims).rev() {
                        order.swap(k, rng.random_range(0..=k));
                    }
                    assert_same_under(&problem, &order, &reference);
                }
            }
        }
    }

    #[test]
    fn three_sources_pick_the_true_triples() {
        // Each source sees objects 0..5 under its own labels, plus one extra (label 6).
        let labels = [[1u32, 2, 3, 4, 5], [3, 5, 1, 2, 4], [5, 4, 3, 2, 1]];
        let mut tuples = Vec::new();
        let mut truth = Vec::new();
        for object in 0..5 {
            let [a, b, c] = [labels[0][object], labels[1][object], labels[2][object]];
            truth.push(tuples.len());
            tuples.push((vec![a, b, c], -12.0 + 0.1 * object as f64));
            tuples.push((vec![a, b, 0], -7.0));
            tuples.push((vec![a, 0, c], -7.5));
            tuples.push((vec![0, b, c], -6.5));
            // Confusers: the neighbouring object, and the extras.
            let next = (object + 1) % 5;
            tuples.push((vec![a, labels[1][next], c], -8.0));
            tuples.push((vec![labels[0][next], b, 0], -6.9));
            tuples.push((vec![a, 6, labels[2][next]], -5.0));
            tuples.push((vec![6, b, 6], -4.0));
            tuples.push((vec![0, 6, c], -3.0));
        }
        let problem = SdProblem {
            sizes: vec![6, 6, 6],
            tuples,
        };
        let solution = solve(&problem);
        assert!(solution.optimal);
        assert_eq!(solution.chosen, truth);
        assert_eq!(solution.gap, 0.0);
        for order in [[2, 0, 1], [1, 2, 0], [2, 1, 0]] {
            assert_same_under(&problem, &order, &solution);
        }
    }

    #[test]
    fn tracking_problems_are_solved_exactly_in_any_dimension_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for (sensors, objects, clutter, side) in
            [(3, 20, 3, 30.0), (4, 15, 3, 25.0), (5, 10, 2, 20.0)]
        {
            let (problem, true_cost) = tracking_problem(&mut rng, sensors, objects, clutter, side);
            let solution = solve(&problem);
            assert!(solution.optimal, "{sensors} sensors");
            assert!(
                solution.cost <= true_cost + 1e-9,
                "{} > truth {true_cost}",
                solution.cost
            );
            assert!(solution.lagrangian_bound <= solution.cost + 1e-9);
            let mut order: Vec<usize> = (0..sensors).rev().collect();
            assert_same_under(&problem, &order, &solution);
            order.rotate_left(1);
            assert_same_under(&problem, &order, &solution);
        }
    }

    #[test]
    fn a_node_limit_is_reported_honestly() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let problem = random_problem(&mut rng, 3, 12, 400, false);
        let limited = solve_sd(
            &problem,
            &SdParams {
                max_nodes: 1,
                ..SdParams::default()
            },
        )
        .unwrap();
        let full = solve(&problem);
        assert!(full.optimal && !limited.optimal);
        assert!(limited.cost >= full.cost && limited.lower_bound <= full.cost + 1e-9);
        assert!(limited.gap > 0.0 && limited.lower_bound == limited.lagrangian_bound);
        let mut used = HashSet::new();
        for &t in &limited.chosen {
            for (s, &i) in problem.tuples[t]
                .0
                .iter()
                .enumerate()
                .filter(|(_, i)| **i != 0)
            {
                assert!(used.insert((s, i)), "item {i} of dimension {s} twice");
            }
        }
    }

    #[test]
    fn edge_cases() {
        let none = solve(&SdProblem {
            sizes: vec![3, 2, 4],
            tuples: Vec::new(),
        });
        assert_eq!(
            (none.chosen.as_slice(), none.cost, none.optimal),
            (&[][..], 0.0, true)
        );
        assert_eq!(none.lower_bound, 0.0);

        // Dimension 2 is empty; the better pairing through item 2 of dimension 3 wins.
        let empty = SdProblem {
            sizes: vec![2, 0, 2],
            tuples: vec![
                (vec![1, 0, 1], -1.0),
                (vec![2, 0, 2], -2.0),
                (vec![1, 0, 2], -5.0),
            ],
        };
        let solution = solve(&empty);
        assert_eq!((solution.chosen, solution.cost), (vec![2], -5.0));

        // Positive and zero costs are never worth it; of duplicates the cheapest (then the
        // first) is taken.
        let dull = SdProblem {
            sizes: vec![2, 2, 2],
            tuples: vec![
                (vec![1, 1, 1], 0.5),
                (vec![2, 2, 0], 0.0),
                (vec![1, 2, 2], -1.0),
                (vec![1, 2, 2], -1.0),
                (vec![1, 2, 2], -1.5),
            ],
        };
        let solution = solve(&dull);
        assert_eq!((solution.chosen, solution.cost), (vec![4], -1.5));
        let tie = SdProblem {
            sizes: vec![2, 2, 2],
            tuples: vec![(vec![1, 2, 2], -1.0), (vec![1, 2, 2], -1.0)],
        };
        assert_eq!(solve(&tie).chosen, vec![0]);

        let errors = [
            (vec![2, 2, 2], vec![(vec![1, 3, 0], -1.0)], "beyond"),
            (vec![2, 2, 2], vec![(vec![1, 1], -1.0)], "2 indices"),
            (vec![2, 2, 2], vec![(vec![1, 1, 1, 0], -1.0)], "4 indices"),
            (vec![2, 2, 2], vec![(vec![1, 0, 0], -1.0)], "1 real"),
            (vec![2, 2, 2], vec![(vec![1, 1, 0], f64::NAN)], "finite"),
            (
                vec![2, 2, 2],
                vec![(vec![1, 1, 0], f64::NEG_INFINITY)],
                "finite",
            ),
            (
                vec![2, 2, 2],
                vec![(vec![1, 1, 0], f64::MAX), (vec![2, 2, 0], f64::MAX)],
                "too large",
            ),
            (vec![2], vec![], "at least 2"),
        ];
        for (sizes, tuples, message) in errors {
            let error = solve_sd(&SdProblem { sizes, tuples }, &SdParams::default()).unwrap_err();
            assert!(error.to_string().contains(message), "{error}");
        }
        let bad_gap = SdParams {
            gap: f64::NAN,
            ..SdParams::default()
        };
        assert!(
            solve_sd(
                &SdProblem {
                    sizes: vec![1, 1, 1],
                    tuples: vec![]
                },
                &bad_gap
            )
            .is_err()
        );
    }
}
