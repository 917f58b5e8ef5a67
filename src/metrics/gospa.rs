//! GOSPA, computed as Stone Soup's `GOSPAMetric` does.
//!
//! The generalised optimal sub-pattern assignment metric of Rahmathullah, García-Fernández
//! and Svensson, "Generalized optimal sub-pattern assignment metric", Fusion 2017
//! (arXiv:1601.05585), with α = 2. This follows Stone Soup's
//! `GOSPAMetric.compute_gospa_metric` (`stonesoup/metricgenerator/ospametric.py`,
//! stonesoup ≥ 1.4, where the assignment is scipy's exact `linear_sum_assignment`) with
//! the default Euclidean measure on position and no switching penalty:
//!
//! - the distance of a pair is cut off at `c`, and the assignment minimises
//!   `Σ min(d, c)^p` over all pairings of the smaller set;
//! - an assigned pair with `min(d, c)^p < c^p` adds `d^p` to `localisation`; one at the
//!   cut-off counts as a missed truth and a false track instead;
//! - every missed truth adds `c^p / α` to `missed`, every false track `c^p / α` to
//!   `false_tracks`;
//! - `distance = (localisation + missed + false_tracks)^(1/p)`.
//!
//! So the components are in units of distance^p (not counts, not p-th roots).

use crate::assign::{Problem, solve_exact};
use crate::error::{Error, Result};

/// Parameters of [`gospa`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GospaParams {
    /// Order, `1 ≤ p < ∞`.
    pub p: f64,
    /// Cut-off distance, `c > 0`.
    pub c: f64,
    /// Cardinality penalty factor; only `α = 2` (Stone Soup's only value) is supported.
    pub alpha: f64,
}

impl Default for GospaParams {
    fn default() -> Self {
        GospaParams {
            p: 2.0,
            c: 1000.0,
            alpha: 2.0,
        }
    }
}

/// GOSPA and its decomposition (see the module documentation for units).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Gospa {
    /// `(localisation + missed + false_tracks)^(1/p)`.
    pub distance: f64,
    /// `Σ d^p` over assigned pairs closer than `c`.
    pub localisation: f64,
    /// `c^p / α` per truth without a track within `c`.
    pub missed: f64,
    /// `c^p / α` per track without a truth within `c`.
    pub false_tracks: f64,
}

/// GOSPA between truth and track positions at one time.
///
/// Errors: [`Error::Config`] for `α ≠ 2`, `p < 1` or a non-positive cut-off;
/// [`Error::Numeric`] for a non-finite coordinate. With neither truths nor tracks the
/// result is all zeros (Stone Soup cannot be asked that: it has no timestamp then).
pub fn gospa(truths: &[[f64; 3]], tracks: &[[f64; 3]], params: &GospaParams) -> Result<Gospa> {
    let GospaParams { p, c, alpha } = *params;
    if alpha != 2.0 {
        return Err(Error::Config(format!(
            "GOSPA supports only alpha = 2 (as Stone Soup), got {alpha}"
        )));
    }
    if !(p >= 1.0 && p.is_finite()) {
        return Err(Error::Config(format!(
            "GOSPA order p must satisfy 1 ≤ p < ∞, got {p}"
        )));
    }
    if !(c > 0.0 && c.is_finite()) {
        return Err(Error::Config(format!(
            "GOSPA cut-off c must be a finite number > 0, got {c}"
        )));
    }
    for (kind, points) in [("truth", truths), ("track", tracks)] {
        if let Some(k) = points.iter().position(|x| x.iter().any(|v| !v.is_finite())) {
            return Err(Error::Numeric(format!(
                "GOSPA {kind} {k} has a non-finite position {:?}",
                points[k]
            )));
        }
    }

    let cutoff = c.powf(p);
    let dummy = cutoff / alpha;
    let mut result = Gospa::default();
    // `total` is Stone Soup's `-opt_cost`, accumulated in the same order.
    let total;
    if truths.is_empty() {
        total = tracks.len() as f64 * dummy;
        result.false_tracks = total;
    } else if tracks.is_empty() {
        total = truths.len() as f64 * dummy;
        result.missed = total;
    } else {
        // Cost of a pair: the cut-off distance to the power p.
        let mut cost = Vec::with_capacity(truths.len() * tracks.len());
        for truth in truths {
            for track in tracks {
                let d = euclidean(track, truth);
                cost.push(if d < c { d } else { c }.powf(p));
            }
        }
        let problem = Problem {
            rows: truths.len(),
            cols: tracks.len(),
            cost,
            miss: None,
        };
        let solution = solve_exact(&problem)?;
        let false_count = tracks.len() - solution.assigned();
        let mut sum = false_count as f64 * dummy;
        result.false_tracks = sum;
        for (i, col) in solution.row_to_col.iter().enumerate() {
            match *col {
                Some(j) => {
                    let pair = problem.cost(i, j);
                    sum += pair;
                    if pair < cutoff {
                        result.localisation += pair;
                    } else {
                        result.missed += dummy;
                        result.false_tracks += dummy;
                    }
                }
                None => {
                    sum += dummy;
                    result.missed += dummy;
                }
            }
        }
        total = sum;
    }
    result.distance = total.powf(1.0 / p);
    Ok(result)
}

/// Euclidean distance, summed in coordinate order like numpy's norm of the difference.
fn euclidean(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let mut sum = 0.0;
    for k in 0..3 {
        let d = a[k] - b[k];
        sum += d * d;
    }
    sum.sqrt()
}
