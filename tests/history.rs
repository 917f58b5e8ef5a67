//! `trackcorr history` against Stone Soup 1.9's `TrackToTrackCounting`: every association
//! and its time ranges, on both backends, for the cases in tests/data/history_stonesoup.txt
//! (made by tests/data/make_history_reference.py; its command is in the file's header).

use trackcorr::gpu::history::Counter;
use trackcorr::gpu::{GpuOptions, test_context};
use trackcorr::history::{self, HistoryParams, Measure, ReplayAssociations, ReplayHistory, Sample};
use trackcorr::model::NO_TRUTH;

struct Case {
    name: String,
    params: HistoryParams,
    history: ReplayHistory,
    /// Sensor names by index, in the order the case lists them.
    sources: Vec<String>,
    /// `(src_a, id_a, src_b, id_b, [(start, end)])`, sorted, times in seconds.
    expected: Vec<Assoc>,
}

type Assoc = (String, u32, String, u32, Vec<(f64, f64)>);

/// A case being read: name, parameters, sources, samples, expected associations.
type Partial = (String, HistoryParams, Vec<String>, Vec<Sample>, Vec<Assoc>);

fn read_cases() -> Vec<Case> {
    let text = include_str!("data/history_stonesoup.txt");
    let mut cases = Vec::new();
    let mut cur: Option<Partial> = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f[0] {
            "case" => {
                let num = |key: &str| {
                    let k = f.iter().position(|x| *x == key).expect(key);
                    f[k + 1]
                };
                let params = HistoryParams {
                    threshold: num("threshold").parse().unwrap(),
                    confirm: num("confirm").parse().unwrap(),
                    misses: num("misses").parse().unwrap(),
                    one_to_one: num("one_to_one") == "1",
                    measure: match num("measure") {
                        "euclidean" => Measure::Euclidean,
                        "weighted" => Measure::Weighted,
                        m => panic!("measure {m}"),
                    },
                };
                cur = Some((f[1].to_string(), params, Vec::new(), Vec::new(), Vec::new()));
            }
            "track" => {
                let c = cur.as_mut().unwrap();
                if !c.2.iter().any(|s| s == f[1]) {
                    c.2.push(f[1].to_string());
                }
                let sensor = c.2.iter().position(|s| s == f[1]).unwrap() as u32;
                let id: u32 = f[2].parse().unwrap();
                for st in &f[3..] {
                    let v: Vec<f64> = st.split(',').map(|x| x.parse().unwrap()).collect();
                    c.3.push((v[0], sensor, id, NO_TRUTH, [v[1], v[2], v[3]]));
                }
            }
            "assoc" => {
                let c = cur.as_mut().unwrap();
                let times: Vec<f64> = f[5..].iter().map(|x| x.parse().unwrap()).collect();
                c.4.push((
                    f[1].to_string(),
                    f[2].parse().unwrap(),
                    f[3].to_string(),
                    f[4].parse().unwrap(),
                    times.chunks(2).map(|p| (p[0], p[1])).collect(),
                ));
            }
            "end" => {
                let (name, params, sources, samples, mut expected) = cur.take().unwrap();
                expected.sort_by(|x, y| x.partial_cmp(y).unwrap());
                let history = ReplayHistory::from_samples(0, &samples, |s| {
                    panic!("{name}: two samples at {}", s.0)
                })
                .unwrap();
                cases.push(Case {
                    name,
                    params,
                    history,
                    sources,
                    expected,
                });
            }
            other => panic!("unexpected line kind {other}"),
        }
    }
    cases
}

fn as_assocs(c: &Case, r: &ReplayAssociations) -> Vec<Assoc> {
    let h = &c.history;
    let mut out: Vec<Assoc> = r
        .pairs
        .iter()
        .map(|p| {
            let (a, b) = (&h.tracks[p.a as usize], &h.tracks[p.b as usize]);
            (
                c.sources[a.sensor as usize].clone(),
                a.track,
                c.sources[b.sensor as usize].clone(),
                b.track,
                p.ranges
                    .iter()
                    .map(|&(s, e)| (h.times[s as usize], h.times[e as usize]))
                    .collect(),
            )
        })
        .collect();
    out.sort_by(|x, y| x.partial_cmp(y).unwrap());
    out
}

#[test]
fn reference_has_every_kind_of_case() {
    let cases = read_cases();
    assert_eq!(cases.len(), 40);
    assert!(cases.iter().any(|c| c.params.one_to_one));
    assert!(cases.iter().any(|c| c.sources.len() == 3));
    assert!(cases.iter().any(|c| c.params.measure == Measure::Weighted));
    // Some association spans several time ranges, and some case associates nothing.
    assert!(
        cases
            .iter()
            .flat_map(|c| &c.expected)
            .any(|a| a.4.len() > 1)
    );
    assert!(cases.iter().map(|c| c.expected.len()).sum::<usize>() > 100);
}

#[test]
fn cpu_matches_stone_soup() {
    for c in read_cases() {
        let (r, _) = history::associate_cpu(std::slice::from_ref(&c.history), &c.params).unwrap();
        assert_eq!(as_assocs(&c, &r[0]), c.expected, "case {}", c.name);
    }
}

#[test]
fn gpu_matches_stone_soup() {
    let Some(ctx) = test_context(&GpuOptions::default()) else {
        return;
    };
    let counter = Counter::new(&ctx).unwrap();
    for c in read_cases() {
        let (r, counts, _) = counter
            .associate(&ctx, std::slice::from_ref(&c.history), &c.params, 16)
            .unwrap();
        assert_eq!(as_assocs(&c, &r[0]), c.expected, "case {}", c.name);
        // Distances exactly at the threshold are the only ones the kernel hands back.
        if !c.name.starts_with("threshold_equal") {
            assert_eq!(counts.rechecked_pairs, 0, "case {}", c.name);
        }
    }
}

/// Random track sets of several replays: objects on straight lines, three sensors with
/// their own sampling grids and noise, position scales of a few hundred kilometres, and a
/// threshold near the typical distance so that many decisions are close calls.
fn random_batch(seed: u64, replays: u32) -> Vec<ReplayHistory> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..replays)
        .map(|replay| {
            let mut samples = Vec::new();
            let objects = rng.random_range(2..6);
            let base: [f64; 3] = std::array::from_fn(|_| rng.random_range(-4e6..4e6));
            let paths: Vec<([f64; 3], [f64; 3])> = (0..objects)
                .map(|_| {
                    (
                        std::array::from_fn(|k| base[k] + rng.random_range(-2e5..2e5)),
                        std::array::from_fn(|_| rng.random_range(-3e3..3e3)),
                    )
                })
                .collect();
            for sensor in 0..3u32 {
                let period = rng.random_range(1..4);
                for track in 0..rng.random_range(1..7u32) {
                    let o = rng.random_range(0..objects);
                    let t0 = rng.random_range(0..60);
                    let t1 = rng.random_range(t0 + 5..140);
                    let sigma = rng.random_range(5.0..40.0);
                    for t in (t0..t1).filter(|t| t % period == 0) {
                        if rng.random_bool(0.1) {
                            continue;
                        }
                        let (p, v) = paths[o];
                        let pos = std::array::from_fn(|k| {
                            p[k] + v[k] * f64::from(t) + sigma * rng.random_range(-1.7..1.7)
                        });
                        samples.push((f64::from(t), sensor, 10 * track + 1, o as i32, pos));
                    }
                }
            }
            ReplayHistory::from_samples(replay, &samples, |_| panic!("duplicate")).unwrap()
        })
        .collect()
}

#[test]
fn gpu_counts_like_cpu_on_random_batches_and_in_chunks() {
    let Some(ctx) = test_context(&GpuOptions::default()) else {
        return;
    };
    let small = test_context(&GpuOptions {
        max_binding_bytes: Some(32 << 10),
    })
    .unwrap();
    let counter = Counter::new(&ctx).unwrap();
    let small_counter = Counter::new(&small).unwrap();
    let mut rechecked = 0;
    for (seed, threshold, confirm, misses, one_to_one) in [
        (1, 60.0, 3, 2, false),
        (2, 40.0, 2, 3, false),
        (3, 80.0, 1, 1, false),
        (4, 60.0, 3, 2, true),
        (5, 50.0, 4, 1, true),
    ] {
        let batch = random_batch(seed, 40);
        let params = HistoryParams {
            threshold,
            confirm,
            misses,
            one_to_one,
            measure: Measure::Euclidean,
        };
        let (cpu, cpu_counts) = history::associate_cpu(&batch, &params).unwrap();
        let (gpu, gpu_counts, _) = counter.associate(&ctx, &batch, &params, 256).unwrap();
        assert_eq!(cpu, gpu, "seed {seed}");
        assert!(
            cpu.iter().map(|r| r.pairs.len()).sum::<usize>() > 20,
            "seed {seed}"
        );
        assert_eq!(cpu_counts.overlapping_pairs, gpu_counts.overlapping_pairs);
        rechecked += gpu_counts.rechecked_pairs;
        // 32 KiB bindings: a handful of replays per submission, same answer.
        let (chunked, _, _) = small_counter
            .associate(&small, &batch, &params, 256)
            .unwrap();
        assert_eq!(cpu, chunked, "seed {seed}, chunked");
    }
    // Close calls exist but are rare: f32 decides almost everything itself.
    eprintln!("{rechecked} pairs rechecked");
    assert!(rechecked < 50, "{rechecked} pairs rechecked");
}

/// A GPU lost at the second chunk: without the fallback counting stops with a retryable GPU
/// error; with it (`--backend auto`) the later chunks are counted on the CPU, the answer is
/// the same, and the replays so counted are named with the error.
#[test]
fn a_gpu_fault_while_counting_reruns_the_rest_on_the_cpu() {
    let Some(small) = test_context(&GpuOptions {
        max_binding_bytes: Some(32 << 10),
    }) else {
        return;
    };
    let mut counter = Counter::new(&small).unwrap();
    let batch = random_batch(6, 40);
    let params = HistoryParams {
        threshold: 60.0,
        confirm: 3,
        misses: 2,
        one_to_one: true,
        measure: Measure::Euclidean,
    };
    let (cpu, _) = history::associate_cpu(&batch, &params).unwrap();
    let mut done = Vec::new();
    let (clean, _, _, rerun) = counter
        .associate_with_progress(&small, &batch, &params, 256, |d, _| done.push(d))
        .unwrap();
    assert!(rerun.is_none() && clean == cpu);
    assert!(
        done.len() >= 3 && done.last() == Some(&batch.len()),
        "{done:?}"
    );

    counter.inject_fault = Some(1);
    let err = counter.associate(&small, &batch, &params, 256).unwrap_err();
    assert!(
        matches!(err, trackcorr::Error::Gpu(_)) && err.is_retryable(),
        "{err}"
    );

    counter.cpu_fallback = true;
    let (mixed, _, _, rerun) = counter
        .associate_with_progress(&small, &batch, &params, 256, |_, _| {})
        .unwrap();
    assert_eq!(mixed, cpu);
    let rerun = rerun.unwrap();
    assert!(rerun.gpu_error.contains("device lost"));
    let expected: Vec<u32> = batch[done[0]..].iter().map(|h| h.replay).collect();
    assert_eq!(rerun.replays, expected);
}

#[test]
fn salvo_history_on_epochs_is_pure_and_equal_on_both_backends() {
    let set = trackcorr::scenario::generate(&trackcorr::scenario::ScenarioOptions {
        seed: 3,
        replays: 2,
        ..Default::default()
    })
    .unwrap()
    .report_set();
    // Closely spaced objects: one-to-one keeps a track from following two of them.
    let params = HistoryParams {
        one_to_one: true,
        ..HistoryParams::default()
    };
    // Sensors report at their own times: without resampling they share almost none.
    let raw = history::from_reports(&set.reports, std::path::Path::new("salvo")).unwrap();
    assert!(history::shared_time_fraction(&raw) < 0.1);
    let histories = history::resampled(
        &set.reports,
        2.0,
        &trackcorr::propagate::Propagation::default(),
        None,
    )
    .unwrap();
    let (cpu, _) = history::associate_cpu(&histories, &params).unwrap();
    let score = history::score(&histories, &cpu).unwrap();
    assert!(score.labelled_pairs > 20, "{score:?}");
    assert!(score.purity > 0.95, "{score:?}");
    assert!(score.completeness > 0.9, "{score:?}");
    let Some(ctx) = test_context(&GpuOptions::default()) else {
        return;
    };
    let (gpu, _, _) = Counter::new(&ctx)
        .unwrap()
        .associate(&ctx, &histories, &params, 256)
        .unwrap();
    assert_eq!(cpu, gpu);
}
