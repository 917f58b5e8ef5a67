use trackcorr::correlate::Config;
fn main() {
    let s = trackcorr::scenario::generate(&trackcorr::scenario::ScenarioOptions { seed: 1, ..Default::default() }).unwrap();
    let set = s.report_set();
    let gpu = trackcorr::gpu::correlate::GpuBackend::new(&Default::default()).unwrap();
    let mut traces = Vec::new();
    let g = gpu.correlate(&set, &Config::default(), |_, _| {}, Some(&mut traces)).unwrap();
    let props: Vec<_> = traces.iter().flat_map(|t| t.propagated.clone()).collect();
    let mut job = 0;
    let gate = trackcorr::gate::Gate::new(0.99).unwrap();
    for eg in &g.replays[0].epochs {
        let n = eg.live.len();
        if eg.time == 108.0 {
            let rows: Vec<usize> = (6..12).collect();
            let cols: Vec<usize> = (0..6).collect();
            let mut cost = vec![f64::INFINITY; 36];
            for (i, &r) in rows.iter().enumerate() {
                for (j, &c) in cols.iter().enumerate() {
                    let (xa, pa) = &props[job + r];
                    let (xb, pb) = &props[job + c];
                    let d2 = trackcorr::gate::chi_square(xa, pa, xb, pb, 0.0, 6);
                    if d2 <= gate.threshold6 { cost[i * 6 + j] = d2 / gate.threshold6; }
                }
            }
            let p = trackcorr::assign::Problem { rows: 6, cols: 6, cost: cost.clone(), miss: Some(1.0) };
            println!("costs {:?}", cost.chunks(6).collect::<Vec<_>>());
            println!("exact {:?}", trackcorr::assign::solve_exact(&p).unwrap().row_to_col);
            let k = trackcorr::gpu::assign::AuctionKernel::new(&gpu.ctx).unwrap();
            println!("gpu   {:?}", k.solve_batch(&gpu.ctx, &[p.clone()]).unwrap()[0].row_to_col);
            println!("pipeline assignment {:?}", &traces[0].assignment[job..job + n]);
        }
        job += n;
    }
}
