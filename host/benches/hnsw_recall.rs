//! `cargo bench --bench hnsw_recall`: the vector graph as AutBot builds it (hnsw_rs,
//! then frozen; `rag/graph.rs`), over 100,000 random 384-dimension unit vectors (set
//! `BENCH_N` for another size): build time, save/load time, then recall@10 against
//! brute force and single-thread queries/s for several `ef` values, then the same for
//! the exhaustive 4-bit scan the server uses up to `index.exhaustive_max_mib`.
//!
//! Uniform random vectors are the worst case for any graph index: in 384 dimensions
//! every pair is nearly equally far apart. `BENCH_DATA=clustered` draws the vectors
//! and queries around 1,000 random topics instead, closer to real text embeddings.

use autbot::rag::graph::{Graph, EF_CONSTRUCTION, MAX_NB_CONNECTION};
use autbot::rag::nibble_scan::NibbleCodes;
use autbot::rag::vector_math::dot;
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

/// A unit vector near `topic`: the topic plus noise of about the same length.
fn near(topic: &[f32], rng: &mut impl Rng) -> Vec<f32> {
    let noise = unit(rng);
    let mut v: Vec<f32> = topic.iter().zip(&noise).map(|(t, e)| t + e).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(N);
    let clustered = std::env::var("BENCH_DATA").is_ok_and(|v| v == "clustered");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let topics: Vec<Vec<f32>> = (0..1000).map(|_| unit(&mut rng)).collect();
    let draw = |rng: &mut rand::rngs::StdRng| {
        if clustered {
            let t = rng.gen_range(0..topics.len());
            near(&topics[t], rng)
        } else {
            unit(rng)
        }
    };
    let data: Vec<Vec<f32>> = (0..n).map(|_| draw(&mut rng)).collect();
    let queries: Vec<Vec<f32>> = (0..QUERIES).map(|_| draw(&mut rng)).collect();
    println!(
        "data: {}",
        if clustered {
            "clustered (1,000 topics)"
        } else {
            "uniform random"
        }
    );
    let t = Instant::now();
    let graph = Graph::build(&data).unwrap();
    println!(
        "built {n} x {DIM} (M={MAX_NB_CONNECTION}, ef_construction={EF_CONSTRUCTION}) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut bytes = Vec::new();
    graph.write_graph(&mut bytes).unwrap();
    let flat: Vec<f32> = data.iter().flatten().copied().collect();
    let t = Instant::now();
    let loaded = Graph::read_graph(&mut bytes.as_slice(), DIM, &flat).unwrap();
    println!(
        "graph file {:.1} MiB ({:.0} bytes per vector); parsed back in {:.0} ms",
        bytes.len() as f64 / (1 << 20) as f64,
        bytes.len() as f64 / n as f64,
        t.elapsed().as_secs_f64() * 1e3
    );
    assert!(loaded == graph);

    let t = Instant::now();
    let truth: Vec<Vec<usize>> = queries
        .iter()
        .map(|q| {
            let mut d: Vec<(f32, usize)> = data
                .iter()
                .enumerate()
                .map(|(i, v)| (1.0 - dot(v, q), i))
                .collect();
            d.select_nth_unstable_by(10, |a, b| a.0.total_cmp(&b.0));
            d[..10].iter().map(|x| x.1).collect()
        })
        .collect();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "exact search (brute force, one thread): {:.0} queries/s, {:.0} ns per distance",
        QUERIES as f64 / secs,
        secs * 1e9 / (QUERIES * n) as f64
    );
    for ef in [32, 64, 128, 256, 512] {
        let t = Instant::now();
        let mut found = 0;
        for (q, want) in queries.iter().zip(&truth) {
            let got = graph.search(q, 10, ef);
            found += got.iter().filter(|(id, _)| want.contains(id)).count();
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "ef={ef:<4} recall@10 {:.3}  {:.0} queries/s (one thread)",
            found as f64 / (QUERIES * 10) as f64,
            QUERIES as f64 / secs
        );
    }
    // What the server does up to `index.exhaustive_max_mib`: score every vector.
    let t = Instant::now();
    let codes = NibbleCodes::from_graph(&graph);
    println!(
        "exhaustive search: 4-bit codes {:.1} MiB, made in {:.0} ms",
        codes.heap_bytes() as f64 / (1 << 20) as f64,
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let mut found = 0;
    for (q, want) in queries.iter().zip(&truth) {
        let got = codes.search(&graph, q, 10);
        found += got.iter().filter(|(id, _)| want.contains(id)).count();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "exhaustive 4-bit scan + 8-bit rescoring: recall@10 {:.3}  {:.0} queries/s (one thread)",
        found as f64 / (QUERIES * 10) as f64,
        QUERIES as f64 / secs
    );
}
