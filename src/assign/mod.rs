//! Linear assignment: an exact shortest-augmenting-path solver (the reference) and the
//! auction algorithm with ε-scaling (the algorithm the GPU uses).

use crate::error::Result;

/// A (possibly rectangular, possibly gated) linear assignment problem, minimising cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub rows: usize,
    pub cols: usize,
    /// Row-major `rows × cols` costs; `f64::INFINITY` marks a forbidden pair.
    pub cost: Vec<f64>,
    /// Cost of leaving a row unassigned; `None` means every row (or every column, if there
    /// are fewer columns than rows) must be assigned, as in scipy's `linear_sum_assignment`.
    pub miss: Option<f64>,
}

/// An assignment: for each row its column, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    pub row_to_col: Vec<Option<usize>>,
    /// Sum of the assigned costs plus `miss` for every unassigned row.
    pub total: f64,
}

/// Solves `problem` exactly.
pub fn solve_exact(problem: &Problem) -> Result<Solution> {
    let _ = problem;
    unimplemented!("filled in by the assignment work")
}
