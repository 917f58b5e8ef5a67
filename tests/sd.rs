//! S-D assignment (`--assignment sd`, issue 6): at least as good as the sequential stages on
//! the salvo, the same output whatever the order of the networks and sensors in the input,
//! and the same association on the GPU backend (S-D on the host after GPU propagation).

#[path = "common/cli.rs"]
mod cli;
#[path = "common/gpu.rs"]
mod gpu;

use cli::{Scratch, ok, read, summary};
use trackcorr::associate::Assignment;
use trackcorr::correlate::{self, Config};
use trackcorr::metrics::{self, gospa::GospaParams};
use trackcorr::scenario::{self, ScenarioOptions};

fn sd() -> Config {
    Config {
        assignment: Assignment::Sd,
        ..Config::default()
    }
}

/// Acceptance: on salvo seeds 1 to 5, S-D's purity and completeness are each at least the
/// sequential stages'.
#[test]
fn sd_is_at_least_as_good_as_sequential_on_salvo_seeds_1_to_5() {
    for seed in 1..=5 {
        let s = scenario::generate(&ScenarioOptions {
            seed,
            replays: 2,
            ..Default::default()
        })
        .unwrap();
        let set = s.report_set();
        let score = |cfg: &Config| {
            let corr = correlate::correlate(&set, cfg).unwrap();
            let m = metrics::score(&corr, &s.sensors, &s.truth, &GospaParams::default()).unwrap();
            (corr, m)
        };
        let (_, seq) = score(&Config::default());
        let (corr, sd) = score(&sd());
        assert!(
            sd.purity >= seq.purity && sd.completeness >= seq.completeness,
            "seed {seed}: S-D purity {} completeness {}, sequential {} {}",
            sd.purity,
            sd.completeness,
            seq.purity,
            seq.completeness
        );
        // The solver proved every epoch optimal, and three or more sensors met often.
        let counts: Vec<_> = corr.replays.iter().map(|r| r.sd).collect();
        assert!(counts.iter().all(|c| c.not_optimal == 0), "{counts:?}");
        assert!(counts.iter().all(|c| c.epochs > 100 && c.tuples > c.epochs));
    }
}

/// Acceptance: every order of the three networks in sensors.csv (and of the sensors within
/// them, reversed) gives byte-identical associations and system tracks under `sd`, and the
/// same summary; the sequential stages do depend on it (so the check can fail).
#[test]
fn sd_output_does_not_depend_on_the_order_of_the_networks() {
    let dir = Scratch::new("sd-order");
    let d = &dir.0;
    ok(
        d,
        &["generate", "--seed", "2", "--replays", "2", "--out", "in"],
        &[],
    );
    let text = String::from_utf8(read(d, "in/sensors.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let network = |row: &str| row.split(',').nth(1).unwrap().to_string();
    let mut networks: Vec<String> = rows.iter().map(|r| network(r)).collect();
    networks.dedup();
    assert_eq!(networks.len(), 3, "{networks:?}");
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let run = |k: usize, order: &[usize; 3], assignment: &str, reverse: bool| {
        let mut out = vec![header.to_string()];
        for &n in order {
            let mut of_network: Vec<&str> = rows
                .iter()
                .copied()
                .filter(|r| network(r) == networks[n])
                .collect();
            if reverse {
                of_network.reverse();
            }
            out.extend(of_network.iter().map(|r| r.to_string()));
        }
        let sensors = format!("sensors{k}.csv");
        std::fs::write(d.join(&sensors), out.join("\n") + "\n").unwrap();
        let dir = format!("out-{assignment}-{k}");
        ok(
            d,
            &[
                "correlate",
                "--reports",
                "in/reports.csv",
                "--sensors",
                &sensors,
                "--truth",
                "in/truth.csv",
                "--backend",
                "cpu",
                "--assignment",
                assignment,
                "--out",
                &dir,
            ],
            &[],
        );
        let mut s = summary(&d.join(&dir));
        s.as_object_mut().unwrap().remove("inputs");
        (
            read(d, &format!("{dir}/associations.csv")),
            read(d, &format!("{dir}/system_tracks.csv")),
            s,
        )
    };
    let first = run(0, &orders[0], "sd", false);
    for (k, order) in orders.iter().enumerate().skip(1) {
        let other = run(k, order, "sd", k % 2 == 1);
        assert!(
            first.0 == other.0,
            "associations differ for order {order:?}"
        );
        assert!(
            first.1 == other.1,
            "system tracks differ for order {order:?}"
        );
        assert_eq!(first.2, other.2, "summary differs for order {order:?}");
    }
    let a = run(10, &orders[0], "sequential", false);
    let b = run(11, &orders[5], "sequential", true);
    assert!(
        a.0 != b.0,
        "the sequential stages gave the same associations in both orders"
    );
}

/// The GPU backend (propagation on the GPU, S-D on the host) against the CPU backend: the
/// same local tracks together at almost every epoch (f32 propagation can tip a tuple at
/// its gate), the same S-D work.
#[test]
fn sd_on_the_gpu_backend_agrees_with_the_cpu() {
    let Some(gpu) = gpu::backend(&trackcorr::gpu::GpuOptions::default()) else {
        return;
    };
    let s = scenario::generate(&ScenarioOptions {
        seed: 4,
        replays: 2,
        ..Default::default()
    })
    .unwrap();
    let set = s.report_set();
    let cpu = correlate::correlate(&set, &sd()).unwrap();
    let on_gpu = gpu.correlate(&set, &sd(), |_, _| {}, None).unwrap();
    let (mut rows, mut same) = (0usize, 0usize);
    for (a, b) in cpu.replays.iter().zip(&on_gpu.replays) {
        assert_eq!(a.sd.epochs, b.sd.epochs);
        assert!(a.sd.epochs > 100);
        let diff = a.sd.tuples.abs_diff(b.sd.tuples) as f64;
        assert!(diff <= 0.01 * a.sd.tuples as f64, "{:?} {:?}", a.sd, b.sd);
        assert_eq!(a.epochs.len(), b.epochs.len());
        for (x, y) in a.epochs.iter().zip(&b.epochs) {
            for (p, q) in x.live.iter().zip(&y.live) {
                rows += 1;
                same += usize::from(p.system == q.system);
            }
        }
    }
    assert!(rows > 1000);
    assert!(
        same as f64 >= 0.99 * rows as f64,
        "{same} of {rows} association rows agree"
    );
}
