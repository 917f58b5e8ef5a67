//! Assignment solvers against scipy's optima, brute force, and the reference reader.

use std::path::PathBuf;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trackcorr::Error;
use trackcorr::assign::problems::{NamedProblem, Solver, read_problems, run_bench};
use trackcorr::assign::{AuctionOptions, Problem, Solution, solve_auction, solve_exact};

/// scipy's reference problems; a missing file fails the tests (it is part of CI's checkout).
fn reference() -> Vec<NamedProblem> {
    let path = std::env::var_os("TRACKCORR_LAP_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/lap_scipy.txt")
        });
    match read_problems(&path) {
        Ok(problems) => problems,
        Err(e) => panic!(
            "cannot read the LAP reference {} (set TRACKCORR_LAP_REFERENCE): {e}",
            path.display()
        ),
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0)
}

/// Checks that `solution` is a valid assignment of `problem` with a consistent total.
fn check_valid(problem: &Problem, solution: &Solution) {
    assert_eq!(solution.row_to_col.len(), problem.rows);
    let mut used = vec![false; problem.cols];
    for (i, col) in solution.row_to_col.iter().enumerate() {
        if let Some(j) = *col {
            assert!(!used[j], "column {j} assigned twice");
            used[j] = true;
            assert!(problem.cost(i, j).is_finite(), "forbidden pair ({i}, {j})");
        }
    }
    if problem.miss.is_none() {
        assert_eq!(solution.assigned(), problem.rows.min(problem.cols));
    }
    let total = problem.solution(solution.row_to_col.clone()).total;
    assert_eq!(total, solution.total);
}

#[test]
fn reference_file_has_all_problems() {
    let problems = reference();
    assert_eq!(problems.len(), 25);
    assert!(problems.iter().any(|p| p.name == "dense500"));
}

#[test]
fn exact_matches_scipy() {
    for named in reference() {
        let solution = solve_exact(&named.problem).unwrap();
        check_valid(&named.problem, &solution);
        assert!(
            close(solution.total, named.optimum, 1e-9),
            "{}: exact {} vs scipy {}",
            named.name,
            solution.total,
            named.optimum
        );
        assert_eq!(solution.assigned(), named.assigned, "{}", named.name);
    }
}

#[test]
fn auction_within_its_bound_of_scipy() {
    for named in reference() {
        let result = solve_auction(&named.problem, &AuctionOptions::default()).unwrap();
        let total = result.solution.total;
        check_valid(&named.problem, &result.solution);
        assert!(
            total >= named.optimum - 1e-9 * named.optimum.abs().max(1.0),
            "{}: auction {total} below the optimum {}",
            named.name,
            named.optimum
        );
        assert!(
            total <= named.optimum + result.bound + 1e-12 * named.optimum.abs().max(1.0),
            "{}: auction {total} exceeds optimum {} + bound {}",
            named.name,
            named.optimum,
            result.bound
        );
        // The default ε makes the bound 1e-9 of the largest finite cost.
        let scale = named
            .problem
            .cost
            .iter()
            .chain(named.problem.miss.iter())
            .filter(|c| c.is_finite())
            .fold(0.0_f64, |m, c| m.max(c.abs()));
        assert!(
            result.bound <= 1e-9 * scale * (1.0 + 1e-12),
            "{}",
            named.name
        );
        assert_eq!(result.solution.assigned(), named.assigned, "{}", named.name);
    }
}

#[test]
fn bench_runner_reports_every_problem() {
    let problems: Vec<_> = reference()
        .into_iter()
        .filter(|p| p.problem.rows <= 20)
        .collect();
    for solver in [Solver::Exact, Solver::Auction] {
        let lines = run_bench(&problems, solver).unwrap();
        assert_eq!(lines.len(), problems.len());
        for (line, named) in lines.iter().zip(&problems) {
            assert_eq!(line.name, named.name);
            assert_eq!(line.assigned, named.assigned);
            let text = line.to_string();
            let fields: Vec<&str> = text.split(' ').collect();
            assert_eq!(fields.len(), 4, "{text}");
            assert_eq!(fields[1].parse::<f64>().unwrap(), line.total);
            assert_eq!(fields[3].split('.').nth(1).map(str::len), Some(6), "{text}");
        }
    }
    assert_eq!("auction".parse::<Solver>().unwrap(), Solver::Auction);
    assert!(matches!(
        "hungarian".parse::<Solver>(),
        Err(Error::Config(_))
    ));
}

/// Optimum by enumerating every admissible assignment, `None` if there is none.
fn brute_force(p: &Problem) -> Option<f64> {
    fn go(p: &Problem, row: usize, used: &mut [bool], pairs: usize, sum: f64, best: &mut f64) {
        if row == p.rows {
            // Without `miss`, the smaller side must be fully assigned.
            if p.miss.is_some() || pairs == p.rows.min(p.cols) {
                *best = best.min(sum);
            }
            return;
        }
        for j in 0..p.cols {
            if !used[j] && p.cost(row, j).is_finite() {
                used[j] = true;
                go(p, row + 1, used, pairs + 1, sum + p.cost(row, j), best);
                used[j] = false;
            }
        }
        let skip = match p.miss {
            Some(g) => Some(sum + g),
            None if p.rows > p.cols => Some(sum),
            None => None,
        };
        if let Some(sum) = skip {
            go(p, row + 1, used, pairs, sum, best);
        }
    }
    let mut best = f64::INFINITY;
    go(p, 0, &mut vec![false; p.cols], 0, 0.0, &mut best);
    best.is_finite().then_some(best)
}

fn random_problem(rng: &mut ChaCha8Rng) -> Problem {
    let rows = rng.random_range(0..=5);
    let cols = rng.random_range(0..=5);
    let gate = rng.random_range(0.0..0.6);
    // Small integers make ties (and thus tie-breaking) common.
    let integers = rng.random_bool(0.3);
    let cost = (0..rows * cols)
        .map(|_| {
            if rng.random_bool(gate) {
                f64::INFINITY
            } else if integers {
                rng.random_range(-3..10) as f64
            } else {
                rng.random_range(-5.0..20.0)
            }
        })
        .collect();
    let miss = rng.random_bool(0.5).then(|| rng.random_range(0.0..12.0));
    Problem {
        rows,
        cols,
        cost,
        miss,
    }
}

#[test]
fn random_small_problems_match_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(20240611);
    let mut infeasible = 0;
    for case in 0..3000 {
        let p = random_problem(&mut rng);
        let exact = solve_exact(&p);
        let auction = solve_auction(&p, &AuctionOptions::default());
        match brute_force(&p) {
            Some(best) => {
                let exact = exact.unwrap();
                check_valid(&p, &exact);
                assert!(
                    close(exact.total, best, 1e-12),
                    "case {case} {p:?}: exact {} vs brute force {best}",
                    exact.total
                );
                let auction = auction.unwrap();
                check_valid(&p, &auction.solution);
                let total = auction.solution.total;
                assert!(
                    total >= best - 1e-12 * best.abs().max(1.0)
                        && total <= best + auction.bound + 1e-12 * best.abs().max(1.0),
                    "case {case} {p:?}: auction {total} vs brute force {best}"
                );
            }
            None => {
                infeasible += 1;
                assert!(matches!(exact, Err(Error::Infeasible(_))), "case {case}");
                assert!(matches!(auction, Err(Error::Infeasible(_))), "case {case}");
            }
        }
    }
    assert!(infeasible > 50, "too few infeasible cases: {infeasible}");
}

#[test]
fn random_medium_problems_auction_agrees_with_exact() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for case in 0..300 {
        let rows = rng.random_range(1..=40);
        let cols = rng.random_range(1..=40);
        let gate = rng.random_range(0.0..0.9);
        let integers = rng.random_bool(0.5);
        let miss = rng.random_bool(0.7).then(|| rng.random_range(1.0..30.0));
        let cost = (0..rows * cols)
            .map(|_| {
                if miss.is_some() && rng.random_bool(gate) {
                    f64::INFINITY
                } else if integers {
                    rng.random_range(0..20) as f64
                } else {
                    rng.random_range(0.0..50.0)
                }
            })
            .collect();
        let p = Problem {
            rows,
            cols,
            cost,
            miss,
        };
        let exact = solve_exact(&p).unwrap();
        check_valid(&p, &exact);
        let auction = solve_auction(&p, &AuctionOptions::default()).unwrap();
        check_valid(&p, &auction.solution);
        let (total, best) = (auction.solution.total, exact.total);
        assert!(
            total >= best - 1e-12 * best.abs().max(1.0)
                && total <= best + auction.bound + 1e-12 * best.abs().max(1.0),
            "case {case}: auction {total} vs exact {best} (bound {})",
            auction.bound
        );
    }
}

#[test]
fn infeasible_problem_is_an_error() {
    // Both rows can only take column 0.
    let inf = f64::INFINITY;
    let p = Problem {
        rows: 2,
        cols: 3,
        cost: vec![1.0, inf, inf, 2.0, inf, inf],
        miss: None,
    };
    assert!(matches!(solve_exact(&p), Err(Error::Infeasible(_))));
    assert!(matches!(
        solve_auction(&p, &AuctionOptions::default()),
        Err(Error::Infeasible(_))
    ));
    // With a non-assignment cost the same problem is feasible.
    let p = Problem {
        miss: Some(5.0),
        ..p
    };
    let solution = solve_exact(&p).unwrap();
    assert_eq!(solution.row_to_col, vec![Some(0), None]);
    assert_eq!(solution.total, 6.0);
}

#[test]
fn invalid_problems_are_errors() {
    let bad_len = Problem {
        rows: 2,
        cols: 2,
        cost: vec![1.0; 3],
        miss: None,
    };
    assert!(matches!(solve_exact(&bad_len), Err(Error::Config(_))));
    let nan = Problem {
        cost: vec![1.0, f64::NAN, 0.0, 2.0],
        ..bad_len.clone()
    };
    assert!(matches!(solve_exact(&nan), Err(Error::Numeric(_))));
    let options = AuctionOptions {
        scaling: 1.0,
        ..AuctionOptions::default()
    };
    let fine = Problem {
        cost: vec![1.0; 4],
        ..bad_len
    };
    assert!(matches!(
        solve_auction(&fine, &options),
        Err(Error::Config(_))
    ));
}

/// Writes `text` to a fresh file under the temp dir and reads it back as problems.
fn read_snippet(tag: &str, text: &str) -> (PathBuf, trackcorr::Result<Vec<NamedProblem>>) {
    let path =
        std::env::temp_dir().join(format!("trackcorr-assign-{}-{tag}.txt", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let result = read_problems(&path);
    std::fs::remove_file(&path).unwrap();
    (path, result)
}

#[track_caller]
fn expect_input_error(tag: &str, text: &str, line: usize, column: usize, needle: &str) {
    let (path, result) = read_snippet(tag, text);
    match result {
        Err(Error::Input {
            file,
            line: l,
            column: c,
            message,
        }) => {
            assert_eq!(file, path);
            assert_eq!((l, c), (line, column), "{tag}: {message}");
            assert!(message.contains(needle), "{tag}: {message}");
        }
        other => panic!("{tag}: expected an input error, got {other:?}"),
    }
}

#[test]
fn reader_parses_a_small_file() {
    let text = "problem a rows 2 cols 3 miss none optimum 3 assigned 2\n\
                1 2 inf\n\
                \t4  5 6\n\
                \n\
                problem b rows 1 cols 1 miss 2.5 optimum 2.5 assigned 0\n\
                7\n";
    let (_, result) = read_snippet("good", text);
    let problems = result.unwrap();
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0].name, "a");
    assert_eq!(
        problems[0].problem.cost,
        vec![1.0, 2.0, f64::INFINITY, 4.0, 5.0, 6.0]
    );
    assert_eq!(problems[0].problem.miss, None);
    assert_eq!(problems[1].problem.miss, Some(2.5));
    assert_eq!((problems[1].optimum, problems[1].assigned), (2.5, 0));
}

#[test]
fn reader_errors_are_located() {
    let head = "problem a rows 2 cols 3 miss none optimum 3 assigned 2\n";
    expect_input_error("keyword", "problem a row 2\n", 1, 11, "`rows`");
    expect_input_error("count", "problem a rows two\n", 1, 16, "row count");
    expect_input_error(
        "missing",
        "problem a rows 2 cols 3 miss\n",
        1,
        29,
        "end of line",
    );
    expect_input_error(
        "assigned",
        "problem a rows 2 cols 3 miss none optimum 3 assigned 3\n1 2 3\n4 5 6\n",
        1,
        54,
        "assigned count",
    );
    expect_input_error(
        "trailing",
        "problem a rows 1 cols 1 miss none optimum 3 assigned 1 extra\n1\n",
        1,
        56,
        "`extra`",
    );
    expect_input_error(
        "cost",
        &format!("{head}1 2 3\n4 x 6\n"),
        3,
        3,
        "cost 2 of 3",
    );
    expect_input_error("nan", &format!("{head}1 2 3\n4 5 NaN\n"), 3, 5, "`NaN`");
    expect_input_error("short", &format!("{head}1 2 3\n4 5\n"), 3, 4, "cost 3 of 3");
    expect_input_error("long", &format!("{head}1 2 3 4\n4 5 6\n"), 2, 7, "`4`");
    expect_input_error("eof", &format!("{head}1 2 3\n"), 3, 1, "end of file");
    expect_input_error("empty", "\n\n", 1, 1, "no `problem`");
}

#[test]
fn missing_file_is_an_io_error() {
    let path = std::env::temp_dir().join("trackcorr-assign-no-such-file.txt");
    assert!(matches!(read_problems(&path), Err(Error::Io { .. })));
}
