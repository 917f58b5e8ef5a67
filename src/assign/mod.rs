//! Linear assignment: an exact shortest-augmenting-path solver (the reference) and the
//! auction algorithm with ε-scaling (the algorithm the GPU uses).

pub mod auction;
pub mod exact;
pub mod problems;
pub mod sd;

use crate::error::{Error, Result};

pub use auction::{AuctionOptions, AuctionSolution, solve_auction};

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

impl Problem {
    /// Cost of pairing `row` with `col`.
    #[inline]
    pub fn cost(&self, row: usize, col: usize) -> f64 {
        self.cost[row * self.cols + col]
    }

    /// Checks what both solvers rely on: the cost vector has `rows × cols` entries, no
    /// cost is NaN or `-∞` (which would make the minimum meaningless), and `miss`, when
    /// given, is finite.
    pub fn validate(&self) -> Result<()> {
        let expected = self.rows.checked_mul(self.cols).ok_or_else(|| {
            Error::Config(format!(
                "assignment problem of {} × {} is too large",
                self.rows, self.cols
            ))
        })?;
        if self.cost.len() != expected {
            return Err(Error::Config(format!(
                "assignment problem of {} × {} needs {expected} costs, got {}",
                self.rows,
                self.cols,
                self.cost.len()
            )));
        }
        if let Some(k) = self
            .cost
            .iter()
            .position(|c| c.is_nan() || *c == f64::NEG_INFINITY)
        {
            return Err(Error::Numeric(format!(
                "cost of row {} column {} is {}; costs must be finite or +inf",
                k / self.cols,
                k % self.cols,
                self.cost[k]
            )));
        }
        if let Some(miss) = self.miss
            && !miss.is_finite()
        {
            return Err(Error::Numeric(format!(
                "non-assignment cost is {miss}; it must be finite"
            )));
        }
        Ok(())
    }

    /// The solution that assigns `row_to_col`, with its total as defined on [`Solution`].
    /// Rows are summed in order, so equal assignments give bit-identical totals.
    pub fn solution(&self, row_to_col: Vec<Option<usize>>) -> Solution {
        let mut total = 0.0;
        for (row, col) in row_to_col.iter().enumerate() {
            match (col, self.miss) {
                (Some(col), _) => total += self.cost(row, *col),
                (None, Some(miss)) => total += miss,
                (None, None) => {}
            }
        }
        Solution { row_to_col, total }
    }
}

impl Solution {
    /// Number of rows that are assigned a column.
    pub fn assigned(&self) -> usize {
        self.row_to_col.iter().filter(|c| c.is_some()).count()
    }
}

/// Solves `problem` exactly (see [`exact::solve`]).
pub fn solve_exact(problem: &Problem) -> Result<Solution> {
    exact::solve(problem)
}

pub use problems::Solver;

/// Solves `problem` with `solver` (the auction with its default options).
pub fn solve(problem: &Problem, solver: Solver) -> Result<Solution> {
    solver.solve(problem)
}
