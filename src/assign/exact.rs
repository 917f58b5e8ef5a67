//! Exact linear assignment by shortest augmenting paths.
//!
//! This is the Jonker–Volgenant method in the rectangular form of Crouse (2016), "On
//! implementing 2D rectangular assignment algorithms", IEEE TAES 52(4), the algorithm behind
//! scipy's `linear_sum_assignment`: rows are added one at a time, each by a Dijkstra search
//! over reduced costs `c[i][j] - u[i] - v[j]` for the cheapest path to a free column, after
//! which the duals `u`, `v` are updated so that reduced costs stay non-negative.
//!
//! Reductions to the core (which needs `rows ≤ cols`):
//! - more rows than columns without `miss`: solve the transpose;
//! - `miss = G`: append one private dummy column per row, at cost `G` for its own row
//!   and forbidden for all others, so "unassigned" is an ordinary column.

use super::{Problem, Solution};
use crate::error::{Error, Result};

const NONE: usize = usize::MAX;

/// Solves `problem` exactly. Errors: an invalid problem (see [`Problem::validate`]) or
/// [`Error::Infeasible`] when the forbidden pairs leave no complete assignment.
pub fn solve(problem: &Problem) -> Result<Solution> {
    problem.validate()?;
    let (rows, cols) = (problem.rows, problem.cols);
    let row_to_col = match problem.miss {
        Some(miss) => {
            let wide = cols + rows;
            let mut cost = vec![f64::INFINITY; rows * wide];
            for i in 0..rows {
                let line = &mut cost[i * wide..(i + 1) * wide];
                line[..cols].copy_from_slice(&problem.cost[i * cols..(i + 1) * cols]);
                line[cols + i] = miss;
            }
            shortest_augmenting_path(rows, wide, &cost)?
                .into_iter()
                .map(|j| (j < cols).then_some(j))
                .collect()
        }
        None if rows <= cols => shortest_augmenting_path(rows, cols, &problem.cost)?
            .into_iter()
            .map(Some)
            .collect(),
        None => {
            let mut transposed = vec![0.0; rows * cols];
            for i in 0..rows {
                for j in 0..cols {
                    transposed[j * rows + i] = problem.cost[i * cols + j];
                }
            }
            let row_for_col = shortest_augmenting_path(cols, rows, &transposed)?;
            let mut row_to_col = vec![None; rows];
            for (j, &i) in row_for_col.iter().enumerate() {
                row_to_col[i] = Some(j);
            }
            row_to_col
        }
    };
    Ok(problem.solution(row_to_col))
}

/// Minimum-cost assignment of all `nr` rows of the row-major `nr × nc` matrix `cost`
/// (`nr ≤ nc`, `+∞` = forbidden) to distinct columns; returns the column of each row.
fn shortest_augmenting_path(nr: usize, nc: usize, cost: &[f64]) -> Result<Vec<usize>> {
    debug_assert!(nr <= nc && cost.len() == nr * nc);
    // Dual variables: reduced costs c[i][j] - u[i] - v[j] stay ≥ 0, and are 0 on
    // assigned pairs.
    let mut u = vec![0.0; nr];
    let mut v = vec![0.0; nc];
    let mut col4row = vec![NONE; nr];
    let mut row4col = vec![NONE; nc];
    // Shortest-path tree of the current search: distance and predecessor row per column.
    let mut dist = vec![f64::INFINITY; nc];
    let mut path = vec![NONE; nc];
    let mut scanned_row = vec![false; nr];
    let mut scanned_col = vec![false; nc];
    let mut unscanned: Vec<usize> = Vec::with_capacity(nc);

    for start in 0..nr {
        dist.fill(f64::INFINITY);
        scanned_row.fill(false);
        scanned_col.fill(false);
        unscanned.clear();
        unscanned.extend(0..nc);

        // Dijkstra from the free row `start`; `min_val` is the distance to the column
        // scanned last, so at the end it is the length of the augmenting path.
        let mut i = start;
        let mut min_val = 0.0;
        let sink = loop {
            scanned_row[i] = true;
            let mut lowest = f64::INFINITY;
            let mut best = 0;
            for (k, &j) in unscanned.iter().enumerate() {
                let reduced = min_val + cost[i * nc + j] - u[i] - v[j];
                if reduced < dist[j] {
                    dist[j] = reduced;
                    path[j] = i;
                }
                // On equal distance prefer a free column: it ends the search sooner.
                if dist[j] < lowest || (dist[j] == lowest && row4col[j] == NONE) {
                    lowest = dist[j];
                    best = k;
                }
            }
            if lowest == f64::INFINITY {
                return Err(infeasible(nr, nc));
            }
            min_val = lowest;
            let j = unscanned.swap_remove(best);
            scanned_col[j] = true;
            if row4col[j] == NONE {
                break j;
            }
            i = row4col[j];
        };

        // Dual update keeps reduced costs non-negative and zero along the new matching.
        u[start] += min_val;
        for i in 0..nr {
            if scanned_row[i] && i != start {
                u[i] += min_val - dist[col4row[i]];
            }
        }
        for j in 0..nc {
            if scanned_col[j] {
                v[j] -= min_val - dist[j];
            }
        }

        // Augment: flip the alternating path from `sink` back to `start`.
        let mut j = sink;
        loop {
            let i = path[j];
            row4col[j] = i;
            let previous = std::mem::replace(&mut col4row[i], j);
            if i == start {
                break;
            }
            j = previous;
        }
    }
    Ok(col4row)
}

fn infeasible(nr: usize, nc: usize) -> Error {
    Error::Infeasible(format!(
        "the allowed pairs of the {nr} × {nc} cost matrix admit no assignment of all {nr} \
         of its smaller side"
    ))
}
