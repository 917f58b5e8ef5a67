//! Reference assignment problems in a plain-text format, and a small benchmark runner
//! over them (`trackcorr bench assign --problems FILE`).
//!
//! Format (whitespace-separated, blank lines between problems ignored):
//!
//! ```text
//! problem NAME rows N cols M miss G|none optimum TOTAL assigned K
//! c11 c12 … c1M          (N lines of M costs; `inf` marks a forbidden pair)
//! …
//! ```
//!
//! With `miss G` each row may stay unassigned at cost `G`, and `TOTAL` counts `G` per
//! unassigned row; `K` is the number of assigned rows in the optimum.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

use super::{AuctionOptions, Problem, Solution, solve_auction, solve_exact};
use crate::error::{Error, Result};

/// A problem with its known optimum.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedProblem {
    pub name: String,
    pub problem: Problem,
    /// Optimal total (as defined on [`Solution::total`]).
    pub optimum: f64,
    /// Rows assigned in the optimum.
    pub assigned: usize,
}

/// Reads all problems of the file at `path`.
pub fn read_problems(path: &Path) -> Result<Vec<NamedProblem>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_problems(&text, path)
}

/// Parses problems from `text`; `path` only names the source in errors.
pub fn parse_problems(text: &str, path: &Path) -> Result<Vec<NamedProblem>> {
    let mut lines = text.lines().enumerate().map(|(k, line)| (k + 1, line));
    let mut problems = Vec::new();
    while let Some((number, line)) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        let header = parse_header(&mut Tokens::new(line, number, path))?;
        let mut cost = Vec::with_capacity(header.rows * header.cols);
        // A problem without columns has no cost lines (they would be empty).
        let cost_lines = if header.cols == 0 { 0 } else { header.rows };
        for read in 0..cost_lines {
            let Some((number, line)) = lines.next() else {
                return Err(Error::input(
                    path,
                    text.lines().count() + 1,
                    1,
                    format!(
                        "unexpected end of file: problem {} needs {} cost lines, found {read}",
                        header.name, header.rows
                    ),
                ));
            };
            let mut tokens = Tokens::new(line, number, path);
            for k in 0..header.cols {
                let what = format!("cost {} of {} (a number or `inf`)", k + 1, header.cols);
                let (column, token) = tokens.next_or(&what)?;
                let value = token
                    .parse::<f64>()
                    .ok()
                    .filter(|v| !v.is_nan() && *v != f64::NEG_INFINITY)
                    .ok_or_else(|| {
                        Error::input(
                            path,
                            number,
                            column,
                            format!("expected {what}, found `{token}`"),
                        )
                    })?;
                cost.push(value);
            }
            tokens.end(&format!("{} costs", header.cols))?;
        }
        problems.push(NamedProblem {
            name: header.name,
            problem: Problem {
                rows: header.rows,
                cols: header.cols,
                cost,
                miss: header.miss,
            },
            optimum: header.optimum,
            assigned: header.assigned,
        });
    }
    if problems.is_empty() {
        return Err(Error::input(path, 1, 1, "no `problem` line found"));
    }
    Ok(problems)
}

struct Header {
    name: String,
    rows: usize,
    cols: usize,
    miss: Option<f64>,
    optimum: f64,
    assigned: usize,
}

fn parse_header(tokens: &mut Tokens) -> Result<Header> {
    tokens.keyword("problem")?;
    let (_, name) = tokens.next_or("a problem name")?;
    let name = name.to_string();
    tokens.keyword("rows")?;
    let rows = tokens.parse::<usize>("a row count (an integer ≥ 0)")?;
    tokens.keyword("cols")?;
    let cols = tokens.parse::<usize>("a column count (an integer ≥ 0)")?;
    if rows.checked_mul(cols).is_none() {
        return Err(tokens.error_here("a problem of rows × cols that fits in memory"));
    }
    tokens.keyword("miss")?;
    let what = "a finite non-assignment cost or `none`";
    let (column, token) = tokens.next_or(what)?;
    let miss = match token {
        "none" => None,
        _ => Some(
            token
                .parse::<f64>()
                .ok()
                .filter(|m| m.is_finite())
                .ok_or_else(|| tokens.error_at(column, what, token))?,
        ),
    };
    tokens.keyword("optimum")?;
    let what = "the optimal total (a finite number)";
    let (column, token) = tokens.next_or(what)?;
    let optimum = token
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| tokens.error_at(column, what, token))?;
    tokens.keyword("assigned")?;
    let what = format!("the assigned count (an integer ≤ {})", rows.min(cols));
    let (column, token) = tokens.next_or(&what)?;
    let assigned = token
        .parse::<usize>()
        .ok()
        .filter(|&k| k <= rows.min(cols))
        .ok_or_else(|| tokens.error_at(column, &what, token))?;
    tokens.end("the header")?;
    Ok(Header {
        name,
        rows,
        cols,
        miss,
        optimum,
        assigned,
    })
}

/// Whitespace-separated tokens of one line with their 1-based columns, for located errors.
struct Tokens<'a> {
    line: &'a str,
    number: usize,
    path: &'a Path,
    /// Byte offset where the search for the next token starts.
    at: usize,
}

impl<'a> Tokens<'a> {
    fn new(line: &'a str, number: usize, path: &'a Path) -> Self {
        Tokens {
            line,
            number,
            path,
            at: 0,
        }
    }

    /// 1-based character column of byte offset `at`.
    fn column(&self, at: usize) -> usize {
        self.line[..at].chars().count() + 1
    }

    fn next(&mut self) -> Option<(usize, &'a str)> {
        let rest = &self.line[self.at..];
        let start = self.at + (rest.len() - rest.trim_start().len());
        let token = self.line[start..].split_whitespace().next()?;
        self.at = start + token.len();
        Some((self.column(start), token))
    }

    /// The next token, or an error at the end of the line saying `what` was expected.
    fn next_or(&mut self, what: &str) -> Result<(usize, &'a str)> {
        self.next().ok_or_else(|| {
            Error::input(
                self.path,
                self.number,
                self.column(self.line.len()),
                format!("expected {what}, found end of line"),
            )
        })
    }

    fn keyword(&mut self, keyword: &str) -> Result<()> {
        let what = format!("`{keyword}`");
        let (column, token) = self.next_or(&what)?;
        if token == keyword {
            Ok(())
        } else {
            Err(self.error_at(column, &what, token))
        }
    }

    fn parse<T: FromStr>(&mut self, what: &str) -> Result<T> {
        let (column, token) = self.next_or(what)?;
        token
            .parse()
            .map_err(|_| self.error_at(column, what, token))
    }

    /// Errors if anything follows the `what` just read.
    fn end(&mut self, what: &str) -> Result<()> {
        match self.next() {
            None => Ok(()),
            Some((column, token)) => Err(Error::input(
                self.path,
                self.number,
                column,
                format!("unexpected `{token}` after {what}"),
            )),
        }
    }

    fn error_at(&self, column: usize, what: &str, found: &str) -> Error {
        Error::input(
            self.path,
            self.number,
            column,
            format!("expected {what}, found `{found}`"),
        )
    }

    /// An error about the token just read.
    fn error_here(&self, what: &str) -> Error {
        let start = self.line[..self.at]
            .rfind(char::is_whitespace)
            .map_or(0, |k| k + 1);
        self.error_at(self.column(start), what, &self.line[start..self.at])
    }
}

/// Which solver to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Solver {
    /// [`solve_exact`].
    Exact,
    /// [`solve_auction`] with default options.
    Auction,
}

impl FromStr for Solver {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "exact" => Ok(Solver::Exact),
            "auction" => Ok(Solver::Auction),
            _ => Err(Error::Config(format!(
                "unknown assignment solver `{s}` (expected `exact` or `auction`)"
            ))),
        }
    }
}

impl fmt::Display for Solver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Solver::Exact => "exact",
            Solver::Auction => "auction",
        })
    }
}

impl Solver {
    /// Solves `problem` with this solver.
    pub fn solve(self, problem: &Problem) -> Result<Solution> {
        match self {
            Solver::Exact => solve_exact(problem),
            Solver::Auction => Ok(solve_auction(problem, &AuctionOptions::default())?.solution),
        }
    }
}

/// One line of [`run_bench`]'s output.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchLine {
    pub name: String,
    pub total: f64,
    pub assigned: usize,
    /// Wall-clock time of the solve alone.
    pub seconds: f64,
}

impl fmt::Display for BenchLine {
    /// `NAME TOTAL ASSIGNED SECONDS`: the total in full (round-trip) precision, the
    /// seconds with 6 decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {:.6}",
            self.name, self.total, self.assigned, self.seconds
        )
    }
}

/// Solves every problem once with `solver`, timing each solve.
pub fn run_bench(problems: &[NamedProblem], solver: Solver) -> Result<Vec<BenchLine>> {
    problems
        .iter()
        .map(|named| {
            let started = Instant::now();
            let solution = solver.solve(&named.problem)?;
            let seconds = started.elapsed().as_secs_f64();
            Ok(BenchLine {
                name: named.name.clone(),
                total: solution.total,
                assigned: solution.assigned(),
                seconds,
            })
        })
        .collect()
}
