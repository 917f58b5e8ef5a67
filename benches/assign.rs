//! Exact and auction assignment on a few of scipy's reference problems.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use trackcorr::assign::problems::read_problems;
use trackcorr::assign::{AuctionOptions, solve_auction, solve_exact};

const PROBLEMS: [&str; 4] = ["dense100", "tracks400", "gated300x250", "dense500"];

fn assign(c: &mut Criterion) {
    let path = std::env::var_os("TRACKCORR_LAP_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/lap_scipy.txt")
        });
    let problems = match read_problems(&path) {
        Ok(problems) => problems,
        Err(e) => panic!("cannot read the LAP reference (set TRACKCORR_LAP_REFERENCE): {e}"),
    };
    let options = AuctionOptions::default();
    let mut group = c.benchmark_group("assign");
    for name in PROBLEMS {
        let Some(named) = problems.iter().find(|p| p.name == name) else {
            panic!("{} has no problem {name}", path.display());
        };
        let problem = &named.problem;
        group.bench_with_input(BenchmarkId::new("exact", name), problem, |b, p| {
            b.iter(|| solve_exact(black_box(p)))
        });
        group.bench_with_input(BenchmarkId::new("auction", name), problem, |b, p| {
            b.iter(|| solve_auction(black_box(p), &options))
        });
    }
    group.finish();
}

criterion_group!(benches, assign);
criterion_main!(benches);
