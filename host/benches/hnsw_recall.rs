//! `cargo bench --bench hnsw_recall`: the hnsw_rs graph as AutBot builds it, over
//! 100,000 random 384-dimension unit vectors: build time, then recall@10 against brute
//! force and single-thread queries/s for several `ef` values.

use autbot::rag::index::UnitCosine;
use hnsw_rs::hnsw::Hnsw;
use rand::{Rng, SeedableRng};
use std::time::Instant;

const N: usize = 100_000;
const DIM: usize = 384;
const QUERIES: usize = 300;

fn unit(rng: &mut impl Rng) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIM).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(N);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let data: Vec<Vec<f32>> = (0..n).map(|_| unit(&mut rng)).collect();
    let queries: Vec<Vec<f32>> = (0..QUERIES).map(|_| unit(&mut rng)).collect();
    let t = Instant::now();
    let graph = Hnsw::new(
        autbot::rag::index::MAX_NB_CONNECTION,
        n,
        16,
        autbot::rag::index::EF_CONSTRUCTION,
        UnitCosine,
    );
    let items: Vec<(&Vec<f32>, usize)> = data.iter().zip(0..).collect();
    graph.parallel_insert(&items);
    println!(
        "built {n} x {DIM} (M={}, ef_construction={}) in {:.1} s",
        autbot::rag::index::MAX_NB_CONNECTION,
        autbot::rag::index::EF_CONSTRUCTION,
        t.elapsed().as_secs_f64()
    );

    let truth: Vec<Vec<usize>> = queries
        .iter()
        .map(|q| {
            let mut d: Vec<(f32, usize)> = data
                .iter()
                .enumerate()
                .map(|(i, v)| (1.0 - autbot::rag::index::dot(v, q), i))
                .collect();
            d.select_nth_unstable_by(10, |a, b| a.0.total_cmp(&b.0));
            d[..10].iter().map(|x| x.1).collect()
        })
        .collect();
    for ef in [32, 64, 128, 256, 512] {
        let t = Instant::now();
        let mut found = 0;
        for (q, want) in queries.iter().zip(&truth) {
            let got = graph.search(q, 10, ef);
            found += got.iter().filter(|n| want.contains(&n.d_id)).count();
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "ef={ef:<4} recall@10 {:.3}  {:.0} queries/s (one thread)",
            found as f64 / (QUERIES * 10) as f64,
            QUERIES as f64 / secs
        );
    }
}
