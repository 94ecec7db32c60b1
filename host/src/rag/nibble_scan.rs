//! Exhaustive search over 4-bit codes: every vector is scored, so recall does not
//! depend on how the data is spread (a graph walk loses its way on data with no
//! structure, such as uniform random vectors), and at half a byte per dimension
//! the codes of 100,000 384-dimension vectors (18.7 MiB) fit in a server CPU's
//! last-level cache. The scores are approximate; [`NibbleCodes::search`] re-scores the
//! best few from the graph's 8-bit codes (within about 1e-3 of the exact cosine).
//!
//! Layout: vectors in groups of 16 (the last one padded), dimensions in runs of 8.
//! For each run a group has 64 bytes: 4 bytes per vector, byte `k` holding dimension
//! `k` of the run in its low nibble and dimension `4 + k` in its high nibble. One
//! 64-byte load and two multiply-adds of 4 bytes × 16 lanes against the query's
//! 4-byte words then advance 16 vectors at once, with no per-vector reduction. A code
//! `c` in `0..=15` stands for `(c - 7.5) * step`, `step` chosen per vector.

use super::graph::Graph;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Vectors scored together.
const GROUP: usize = 16;
/// Dimensions per 64-byte chunk of a group.
const RUN: usize = 8;
const CHUNK_BYTES: usize = GROUP * RUN / 2;
/// Candidates kept from the scan per result wanted, for re-scoring: on 100,000
/// uniform random 384-dimension vectors 2 gives recall@10 0.988 (`cargo bench
/// --bench hnsw_recall`).
const RESCORE: usize = 2;
/// Groups whose integer sums are computed before they are scored.
const BATCH_GROUPS: usize = 64;

/// 4-bit codes of a set of vectors, scanned in full by [`NibbleCodes::scan`].
#[derive(Default)]
pub struct NibbleCodes {
    dims: usize,
    /// Runs of [`RUN`] dimensions (the last one padded).
    runs: usize,
    codes: Vec<u8>,
    /// Per vector, padded with zeros to whole groups.
    steps: Vec<f32>,
    count: usize,
}

/// A query prepared for scanning: 8-bit codes, padded to whole runs.
struct Probe {
    codes: Vec<i8>,
    scale: f32,
    /// Sum of the query codes, for the `- 7.5` offset of every vector code.
    sum: i32,
}

/// Candidate kept while scanning: ordered by score, then by id.
#[derive(PartialEq)]
struct Scored(f32, u32);

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

impl NibbleCodes {
    /// Codes for `vectors`, all of `dims` dimensions.
    pub fn new<'a>(dims: usize, vectors: impl ExactSizeIterator<Item = &'a [f32]>) -> Self {
        let runs = dims.div_ceil(RUN);
        let groups = vectors.len().div_ceil(GROUP);
        let mut codes = NibbleCodes {
            dims,
            runs,
            codes: vec![0; groups * runs * CHUNK_BYTES],
            steps: vec![0.0; groups * GROUP],
            count: 0,
        };
        for v in vectors {
            codes.push(v);
        }
        codes
    }

    /// Bytes the codes of `vectors` vectors of `dims` dimensions take.
    pub fn size_for(vectors: usize, dims: usize) -> usize {
        let per_vector = dims.div_ceil(RUN) * RUN / 2 + std::mem::size_of::<f32>();
        vectors.saturating_mul(per_vector)
    }

    /// Codes for every vector of `graph`, from its 8-bit codes.
    pub fn from_graph(graph: &Graph) -> Self {
        let mut buf = Vec::new();
        let mut codes = Self::new(graph.dims(), std::iter::empty::<&[f32]>());
        codes.reserve(graph.len());
        for node in 0..graph.len() {
            graph.decoded(node, &mut buf);
            codes.push(&buf);
        }
        codes
    }

    /// The `k` nearest items to `query` (unit length) as `(item, cosine similarity)`,
    /// best first: the best `RESCORE × k` of the scan, rescored from `graph`'s 8-bit
    /// codes. `graph` must be the one these codes were made from.
    pub fn search(&self, graph: &Graph, query: &[f32], k: usize) -> Vec<(usize, f32)> {
        let found = self.scan(query, k.saturating_mul(RESCORE));
        let mut best = graph.rescore(query, found.into_iter().map(|(id, _)| id));
        best.truncate(k);
        best
    }

    fn reserve(&mut self, vectors: usize) {
        let groups = (self.count + vectors).div_ceil(GROUP);
        self.codes
            .reserve_exact((groups * self.group_bytes()).saturating_sub(self.codes.len()));
        self.steps
            .reserve_exact((groups * GROUP).saturating_sub(self.steps.len()));
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there is no vector.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes held (codes and steps).
    pub fn heap_bytes(&self) -> usize {
        self.codes.capacity() + self.steps.capacity() * 4
    }

    fn group_bytes(&self) -> usize {
        self.runs * CHUNK_BYTES
    }

    fn push(&mut self, v: &[f32]) {
        let id = self.count;
        let v = &v[..v.len().min(self.dims)];
        let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
        let step = if max > 0.0 { max / 7.5 } else { 1.0 };
        let group_at = id / GROUP * self.group_bytes();
        if self.steps.len() <= id {
            self.codes.resize(group_at + self.group_bytes(), 0);
            self.steps.resize(self.steps.len() + GROUP, 0.0);
        }
        let lane = id % GROUP;
        // A vector shorter than `dims` counts as zeros (code 8: half a step off);
        // the padding past `dims` keeps code 0, where the query is 0, so it adds nothing.
        for d in 0..self.dims {
            let x = v.get(d).copied().unwrap_or(0.0);
            let code = (x / step + 7.5).round().clamp(0.0, 15.0) as u8;
            let (run, within) = (d / RUN, d % RUN);
            let byte = &mut self.codes[group_at + run * CHUNK_BYTES + lane * 4 + within % 4];
            *byte |= if within < 4 { code } else { code << 4 };
        }
        self.steps[id] = step;
        self.count += 1;
    }

    fn probe(&self, query: &[f32]) -> Probe {
        let query = &query[..query.len().min(self.dims)];
        let max = query.iter().fold(0f32, |m, x| m.max(x.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        let mut codes = vec![0i8; self.runs * RUN];
        for (c, x) in codes.iter_mut().zip(query) {
            *c = (x / scale).round().clamp(-127.0, 127.0) as i8;
        }
        let sum = codes.iter().map(|&c| c as i32).sum();
        Probe { codes, scale, sum }
    }

    /// The `keep` vectors with the highest approximate dot product with `query`, as
    /// `(item, approximate similarity)`, best first.
    pub fn scan(&self, query: &[f32], keep: usize) -> Vec<(usize, f32)> {
        if self.is_empty() || keep == 0 || self.runs == 0 {
            return Vec::new();
        }
        let keep = keep.min(self.count);
        let probe = self.probe(query);
        let offset = 7.5 * probe.sum as f32;
        let mut heap: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(keep + 1);
        let mut floor = f32::NEG_INFINITY;
        let words = query_words(&probe.codes);
        let batch = BATCH_GROUPS * self.group_bytes();
        let mut sums = vec![0i32; BATCH_GROUPS * GROUP];
        let mut scores = vec![0f32; BATCH_GROUPS * GROUP];
        for (b, codes) in self.codes.chunks(batch).enumerate() {
            let first = b * BATCH_GROUPS * GROUP;
            let n = codes.len() / self.group_bytes() * GROUP;
            group_dots(codes, self.group_bytes(), &words, &mut sums[..n]);
            let steps = &self.steps[first..first + n];
            to_scores(&sums[..n], steps, offset, probe.scale, &mut scores[..n]);
            for (g, scores) in scores[..n].chunks_exact(GROUP).enumerate() {
                // Nothing more for a group with no score above the floor.
                let above = scores.iter().fold(false, |a, &s| a | (s > floor));
                if heap.len() == keep && !above {
                    continue;
                }
                let first = first + g * GROUP;
                for (lane, &score) in scores.iter().enumerate() {
                    let id = first + lane;
                    if id >= self.count || (heap.len() == keep && score <= floor) {
                        continue;
                    }
                    heap.push(Reverse(Scored(score, id as u32)));
                    if heap.len() > keep {
                        heap.pop();
                    }
                    if heap.len() == keep {
                        floor = heap.peek().map_or(f32::NEG_INFINITY, |s| s.0 .0);
                    }
                }
            }
        }
        heap.into_sorted_vec()
            .into_iter()
            .map(|Reverse(Scored(s, id))| (id as usize, s))
            .collect()
    }
}

/// `scores[i]` = `(sums[i] - offset) × steps[i] × scale`: the approximate dot product
/// (the `- 7.5` of every code is `offset`, 7.5 × the sum of the query codes).
fn to_scores(sums: &[i32], steps: &[f32], offset: f32, scale: f32, scores: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports the feature the function is compiled for.
            return unsafe { to_scores_avx512(sums, steps, offset, scale, scores) };
        }
    }
    to_scores_portable(sums, steps, offset, scale, scores)
}

#[inline(always)]
fn to_scores_portable(sums: &[i32], steps: &[f32], offset: f32, scale: f32, scores: &mut [f32]) {
    for ((score, &s), &step) in scores.iter_mut().zip(sums).zip(steps) {
        *score = (s as f32 - offset) * step * scale;
    }
}

/// The same loop, vectorised 16 lanes wide by the compiler.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn to_scores_avx512(sums: &[i32], steps: &[f32], offset: f32, scale: f32, scores: &mut [f32]) {
    to_scores_portable(sums, steps, offset, scale, scores)
}

/// `sums[16 g + lane]` = Σ code × query code for vector `lane` of group `g` of `codes`.
/// `words` is the query as 4-byte words ([`query_words`]).
fn group_dots(codes: &[u8], group_bytes: usize, words: &[i32], sums: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
        {
            // SAFETY: the CPU supports the features the kernel is compiled for.
            return unsafe { dots_avx512(codes, group_bytes, words, sums) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { dots_avx2(codes, group_bytes, words, sums) };
        }
    }
    dots_portable(codes, group_bytes, words, sums)
}

/// The query's codes as little-endian 4-byte words: a word's 4 bytes meet the 4
/// bytes a vector has for one half of a run.
fn query_words(query: &[i8]) -> Vec<i32> {
    query
        .chunks_exact(4)
        .map(|w| i32::from_le_bytes([w[0] as u8, w[1] as u8, w[2] as u8, w[3] as u8]))
        .collect()
}

fn dots_portable(codes: &[u8], group_bytes: usize, words: &[i32], out: &mut [i32]) {
    for (group, sums) in codes
        .chunks_exact(group_bytes)
        .zip(out.chunks_exact_mut(GROUP))
    {
        sums.fill(0);
        for (chunk, w) in group.chunks_exact(CHUNK_BYTES).zip(words.chunks_exact(2)) {
            let (lo, hi) = (w[0].to_le_bytes(), w[1].to_le_bytes());
            for (lane, sum) in sums.iter_mut().enumerate() {
                for k in 0..4 {
                    let byte = chunk[lane * 4 + k];
                    *sum += (byte & 15) as i32 * lo[k] as i8 as i32
                        + (byte >> 4) as i32 * hi[k] as i8 as i32;
                }
            }
        }
    }
}

/// 64 unsigned × signed byte products summed into the 16 vectors' lanes per
/// instruction. High nibbles are multiplied in place (16 × code) in their own
/// accumulators and divided by 16 at the end; two runs per step, four independent
/// accumulators, so consecutive multiply-adds do not wait on each other.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn dots_avx512(codes: &[u8], group_bytes: usize, words: &[i32], out: &mut [i32]) {
    use std::arch::x86_64::*;
    let low = _mm512_set1_epi8(0x0f);
    let high = _mm512_set1_epi8(0xf0u8 as i8);
    for (group, sums) in codes
        .chunks_exact(group_bytes)
        .zip(out.chunks_exact_mut(GROUP))
    {
        let (mut a0, mut a1, mut a2, mut a3) = (
            _mm512_setzero_si512(),
            _mm512_setzero_si512(),
            _mm512_setzero_si512(),
            _mm512_setzero_si512(),
        );
        let pairs = group.chunks_exact(2 * CHUNK_BYTES);
        let last = pairs.remainder();
        for (pair, w) in pairs.zip(words.chunks_exact(4)) {
            // SAFETY: `pair` is 128 bytes; unaligned loads are allowed.
            let (c0, c1) = unsafe {
                (
                    _mm512_loadu_si512(pair.as_ptr().cast()),
                    _mm512_loadu_si512(pair.as_ptr().add(CHUNK_BYTES).cast()),
                )
            };
            a0 = _mm512_dpbusd_epi32(a0, _mm512_and_si512(c0, low), _mm512_set1_epi32(w[0]));
            a1 = _mm512_dpbusd_epi32(a1, _mm512_and_si512(c0, high), _mm512_set1_epi32(w[1]));
            a2 = _mm512_dpbusd_epi32(a2, _mm512_and_si512(c1, low), _mm512_set1_epi32(w[2]));
            a3 = _mm512_dpbusd_epi32(a3, _mm512_and_si512(c1, high), _mm512_set1_epi32(w[3]));
        }
        if !last.is_empty() {
            let n = words.len();
            // SAFETY: `last` is one 64-byte chunk.
            let c = unsafe { _mm512_loadu_si512(last.as_ptr().cast()) };
            a0 = _mm512_dpbusd_epi32(
                a0,
                _mm512_and_si512(c, low),
                _mm512_set1_epi32(words[n - 2]),
            );
            a1 = _mm512_dpbusd_epi32(
                a1,
                _mm512_and_si512(c, high),
                _mm512_set1_epi32(words[n - 1]),
            );
        }
        let lo = _mm512_add_epi32(a0, a2);
        let hi = _mm512_srai_epi32::<4>(_mm512_add_epi32(a1, a3));
        // SAFETY: `sums` is 16 × 4 bytes (`chunks_exact_mut`).
        unsafe { _mm512_storeu_si512(sums.as_mut_ptr().cast(), _mm512_add_epi32(lo, hi)) };
    }
}

/// 32 byte products per instruction into 16-bit pairs (at most 2 × 15 × 127, so no
/// saturation), widened to 32 bits by a multiply-add with ones; 8 vectors per half.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dots_avx2(codes: &[u8], group_bytes: usize, words: &[i32], out: &mut [i32]) {
    use std::arch::x86_64::*;
    let low = _mm256_set1_epi8(0x0f);
    let ones = _mm256_set1_epi16(1);
    for (group, sums) in codes
        .chunks_exact(group_bytes)
        .zip(out.chunks_exact_mut(GROUP))
    {
        let (mut a0, mut a1) = (_mm256_setzero_si256(), _mm256_setzero_si256());
        for (chunk, w) in group.chunks_exact(CHUNK_BYTES).zip(words.chunks_exact(2)) {
            let (q_lo, q_hi) = (_mm256_set1_epi32(w[0]), _mm256_set1_epi32(w[1]));
            // SAFETY: `chunk` is 64 bytes; each load reads 32 of them.
            let (c0, c1) = unsafe {
                (
                    _mm256_loadu_si256(chunk.as_ptr().cast()),
                    _mm256_loadu_si256(chunk.as_ptr().add(32).cast()),
                )
            };
            let half = |c: __m256i| {
                let lo = _mm256_maddubs_epi16(_mm256_and_si256(c, low), q_lo);
                let hi =
                    _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16::<4>(c), low), q_hi);
                _mm256_madd_epi16(_mm256_add_epi16(lo, hi), ones)
            };
            a0 = _mm256_add_epi32(a0, half(c0));
            a1 = _mm256_add_epi32(a1, half(c1));
        }
        // SAFETY: `sums` is 2 × 8 × 4 bytes (`chunks_exact_mut`).
        unsafe {
            _mm256_storeu_si256(sums.as_mut_ptr().cast(), a0);
            _mm256_storeu_si256(sums.as_mut_ptr().add(8).cast(), a1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rag::vector_math::dot;

    fn vectors(n: usize, dims: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
        };
        (0..n)
            .map(|_| {
                let v: Vec<f32> = (0..dims).map(|_| next()).collect();
                let norm = dot(&v, &v).sqrt();
                v.iter().map(|x| x / norm).collect()
            })
            .collect()
    }

    #[test]
    fn every_kernel_gives_the_same_integer_sums() {
        for dims in [1, 64, 100, 128, 384, 385] {
            let data = vectors(300, dims, dims as u64);
            let codes = NibbleCodes::new(dims, data.iter().map(Vec::as_slice));
            let words = query_words(&codes.probe(&data[7]).codes);
            let collect = |kernel: fn(&[u8], usize, &[i32], &mut [i32])| {
                let mut all = vec![0; codes.steps.len()];
                kernel(&codes.codes, codes.group_bytes(), &words, &mut all);
                all
            };
            let expected = collect(dots_portable);
            assert!(expected.iter().any(|&s| s != 0));
            assert_eq!(collect(group_dots), expected, "dims {dims}");
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: checked above.
                let avx2 = collect(|c, b, w, o| unsafe { dots_avx2(c, b, w, o) });
                assert_eq!(avx2, expected, "avx2, dims {dims}");
            }
        }
    }

    #[test]
    fn approximate_scores_are_close_and_the_scan_ranks_by_them() {
        let data = vectors(2000, 384, 3);
        let codes = NibbleCodes::new(384, data.iter().map(Vec::as_slice));
        let query = &data[42];
        let found = codes.scan(query, 50);
        assert_eq!(found.len(), 50);
        assert_eq!(found[0].0, 42, "a vector is its own nearest neighbour");
        assert!(found.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
        for &(id, approx) in &found {
            let exact = dot(query, &data[id]);
            assert!((approx - exact).abs() < 0.05, "{approx} vs {exact}");
        }
        // The true 10 nearest are among the 50 kept.
        let mut exact: Vec<(usize, f32)> = data
            .iter()
            .enumerate()
            .map(|(i, v)| (i, dot(query, v)))
            .collect();
        exact.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (id, _) in &exact[..10] {
            assert!(found.iter().any(|f| f.0 == *id), "missed {id}");
        }
    }

    #[test]
    fn search_rescores_with_the_graph() {
        // Quick in a debug build; `cargo bench --bench hnsw_recall` measures at scale.
        let data = vectors(600, 96, 11);
        let graph = Graph::build(&data).expect("graph");
        let codes = NibbleCodes::from_graph(&graph);
        assert_eq!(codes.len(), 600);
        let mut found = 0;
        for query in data.iter().step_by(30) {
            let got = codes.search(&graph, query, 10);
            assert_eq!(got.len(), 10);
            assert!(got.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
            let mut exact: Vec<(usize, f32)> = data
                .iter()
                .enumerate()
                .map(|(i, v)| (i, dot(query, v)))
                .collect();
            exact.sort_by(|a, b| b.1.total_cmp(&a.1));
            for &(id, sim) in &got {
                assert!(
                    (sim - dot(query, &data[id])).abs() < 3e-3,
                    "rescored exactly"
                );
            }
            found += exact[..10]
                .iter()
                .filter(|(id, _)| got.iter().any(|g| g.0 == *id))
                .count();
        }
        assert!(found >= 190, "recall@10 {found}/200");
    }

    #[test]
    fn empty_and_zero_inputs() {
        let empty = NibbleCodes::new(8, std::iter::empty::<&[f32]>());
        assert!(empty.scan(&[1.0; 8], 3).is_empty());
        let no_dims = NibbleCodes::new(0, [[].as_slice(), [].as_slice()].into_iter());
        assert_eq!(no_dims.len(), 2);
        assert!(no_dims.scan(&[], 3).is_empty());
        let zeros = NibbleCodes::new(4, [[0.0f32; 4].as_slice()].into_iter());
        assert_eq!(zeros.scan(&[0.0; 4], 3).len(), 1);
        assert!(zeros.scan(&[1.0; 4], 0).is_empty());
        assert_eq!(zeros.scan(&[1.0; 4], usize::MAX).len(), 1);
        // Hostile numbers neither panic nor invent results.
        for q in [[f32::NAN; 4], [f32::INFINITY; 4], [f32::MAX; 4]] {
            assert_eq!(zeros.scan(&q, 3).len(), 1);
        }
        assert_eq!(
            zeros.scan(&[1.0; 2], 3).len(),
            1,
            "short queries are zero-padded"
        );
        // A short vector counts as zeros after its end.
        let short = NibbleCodes::new(4, [[0.5f32, 0.5].as_slice()].into_iter());
        let got = short.scan(&[0.0, 0.0, 1.0, 1.0], 1);
        assert!(got[0].1.abs() < 0.1, "{got:?}");
        assert_eq!(NibbleCodes::size_for(100_000, 384), 19_600_000);
        assert_eq!(NibbleCodes::size_for(1, 3), 8);
    }
}
