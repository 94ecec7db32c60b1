//! The vector index: an HNSW graph over unit vectors (cosine), built by `hnsw_rs` and
//! then frozen into a compact form that this module searches and persists.
//!
//! Why not keep the `hnsw_rs` structure: it holds every neighbour as a separately
//! allocated `Arc`, tracks visited nodes in a SipHash `HashMap` and locks each
//! neighbour list while searching. Frozen, the graph is two flat `u32` arrays per
//! layer (about 200 bytes per node), written to and read from disk as is (no rebuild at
//! start-up), and searched with a generation-stamped visited list and plain heaps.
//!
//! The vectors are held as 8-bit codes with one scale each (`vector_math::quantize`):
//! a quarter of the memory, and a quarter of the memory traffic a search waits on.
//! Similarities computed from the codes are within about 1e-3 of the exact ones; the
//! full `f32` vectors stay on disk (`vectors.f32`) for rebuilds.
//! `cargo bench --bench hnsw_recall` measures recall against exact search.

use super::vector_math::{dot, dot_i8, quantize};
use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::hnsw::Hnsw;
use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io::{Read, Write};

/// Graph parameters: max neighbours per node and layer (twice this on layer 0),
/// construction breadth, most layers.
pub const MAX_NB_CONNECTION: usize = 24;
pub const EF_CONSTRUCTION: usize = 200;
const MAX_LAYER: usize = 16;

/// Tag and version at the start of `graph.bin`.
const MAGIC: &[u8; 8] = b"AUTBOTG1";

/// Cosine distance for unit vectors, `1 - a·b` clamped at 0: what `hnsw_rs` builds with.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnitCosine;

impl Distance<f32> for UnitCosine {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

/// One layer's adjacency: the neighbours of `nodes[i]` are `ids[offsets[i]..offsets[i + 1]]`.
/// On layer 0 every node is present and `nodes` is empty (node `i` is at position `i`).
#[derive(Debug, Default, PartialEq)]
struct Layer {
    nodes: Vec<u32>,
    offsets: Vec<u32>,
    ids: Vec<u32>,
}

impl Layer {
    fn neighbours(&self, node: u32) -> &[u32] {
        let at = if self.nodes.is_empty() {
            node as usize
        } else {
            match self.nodes.binary_search(&node) {
                Ok(i) => i,
                Err(_) => return &[],
            }
        };
        match (self.offsets.get(at), self.offsets.get(at + 1)) {
            (Some(&a), Some(&b)) => &self.ids[a as usize..b as usize],
            _ => &[],
        }
    }
}

/// A frozen HNSW graph plus the 8-bit codes of the vectors it indexes (row `i` is item `i`).
#[derive(Debug, PartialEq)]
pub struct Graph {
    dims: usize,
    codes: Vec<i8>,
    scales: Vec<f32>,
    entry: u32,
    layers: Vec<Layer>,
}

/// A query as the walk sees it.
struct Probe {
    codes: Vec<i8>,
    scale: f32,
}

/// Distance and node, ordered by distance (then id, for determinism).
#[derive(Clone, Copy, PartialEq)]
struct Scored(f32, u32);

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

thread_local! {
    /// Per-thread visited marks: `marks[i] == generation` means visited in this search.
    static VISITED: RefCell<(Vec<u32>, u32)> = const { RefCell::new((Vec::new(), 0)) };
}

impl Graph {
    /// Builds the graph over `vectors` (all of length `dims`, unit length) with `hnsw_rs`
    /// on all cores, then freezes it. `None` when there are no vectors.
    pub fn build(vectors: &[Vec<f32>]) -> Option<Self> {
        let dims = vectors.first()?.len();
        let hnsw = Hnsw::new(
            MAX_NB_CONNECTION,
            vectors.len(),
            MAX_LAYER,
            EF_CONSTRUCTION,
            UnitCosine,
        );
        let items: Vec<(&Vec<f32>, usize)> = vectors.iter().zip(0..).collect();
        hnsw.parallel_insert(&items);
        Some(Self::freeze(&hnsw, dims, vectors.iter().map(Vec::as_slice)))
    }

    /// The 8-bit codes of `vectors` with no links: for an index small enough that
    /// every search scores every vector, where building links would be wasted time.
    /// `None` when there are no vectors.
    pub fn unlinked(vectors: &[Vec<f32>]) -> Option<Self> {
        let dims = vectors.first()?.len();
        let bottom = Layer {
            nodes: Vec::new(),
            offsets: vec![0; vectors.len() + 1],
            ids: Vec::new(),
        };
        Some(Self::assemble(
            dims,
            vectors.iter().map(Vec::as_slice),
            0,
            vec![bottom],
        ))
    }

    /// Whether there are links to walk ([`Graph::unlinked`] has none).
    pub fn is_linked(&self) -> bool {
        self.len() <= 1 || self.layers.first().is_some_and(|l| !l.ids.is_empty())
    }

    fn freeze<'v>(
        hnsw: &Hnsw<'_, f32, UnitCosine>,
        dims: usize,
        vectors: impl ExactSizeIterator<Item = &'v [f32]>,
    ) -> Self {
        let n = vectors.len();
        // neighbourhoods[i][l]: node i's neighbours on layer l.
        let mut neighbourhoods: Vec<Vec<Vec<u32>>> = vec![Vec::new(); n];
        let (mut entry, mut top) = (0u32, 0usize);
        for point in hnsw.get_point_indexation() {
            let id = point.get_origin_id();
            let level = point.get_point_id().0 as usize;
            if id >= n {
                continue;
            }
            if level > top || (level == top && (id as u32) < entry) {
                (entry, top) = (id as u32, level);
            }
            neighbourhoods[id] = point
                .get_neighborhood_id()
                .into_iter()
                .take(level + 1)
                .map(|layer| {
                    layer
                        .iter()
                        .filter(|nb| nb.d_id < n)
                        .map(|nb| nb.d_id as u32)
                        .collect()
                })
                .collect();
        }
        let layers = (0..=top)
            .map(|l| {
                let mut layer = Layer {
                    offsets: vec![0],
                    ..Layer::default()
                };
                for (id, hood) in neighbourhoods.iter().enumerate() {
                    match hood.get(l) {
                        Some(list) => {
                            if l > 0 {
                                layer.nodes.push(id as u32);
                            }
                            layer.ids.extend_from_slice(list);
                        }
                        // Layer 0 lists every node, even one hnsw_rs left unlinked.
                        None if l == 0 => {}
                        None => continue,
                    }
                    layer.offsets.push(layer.ids.len() as u32);
                }
                layer
            })
            .collect();
        Self::assemble(dims, vectors, entry, layers)
    }

    /// The graph over `vectors` (each `dims` long), keeping their 8-bit codes.
    fn assemble<'v>(
        dims: usize,
        vectors: impl Iterator<Item = &'v [f32]>,
        entry: u32,
        layers: Vec<Layer>,
    ) -> Self {
        let mut codes = Vec::new();
        let scales: Vec<f32> = vectors.map(|v| quantize(v, &mut codes)).collect();
        codes.shrink_to_fit();
        Self {
            dims,
            codes,
            scales,
            entry,
            layers,
        }
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.scales.len()
    }

    /// Length of every vector.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Whether the graph holds no vector.
    pub fn is_empty(&self) -> bool {
        self.scales.is_empty()
    }

    fn codes(&self, node: u32) -> &[i8] {
        let at = node as usize * self.dims;
        &self.codes[at..at + self.dims]
    }

    /// Hints the CPU to start loading `node`'s codes.
    fn prefetch(&self, node: u32) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            for line in self.codes(node).chunks(64) {
                // SAFETY: a prefetch never faults and does not change memory; the
                // address is inside `row`.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
            }
        }
    }

    /// Cosine distance from the codes (within about 1e-3 of the exact one).
    fn distance(&self, probe: &Probe, node: u32) -> f32 {
        let dot = dot_i8(&probe.codes, self.codes(node)) as f32;
        1.0 - dot * probe.scale * self.scales[node as usize]
    }

    /// Cosine similarities of `query` (unit length) to `items`, from the 8-bit codes
    /// (within about 1e-3 of the exact ones), best first.
    pub fn rescore(&self, query: &[f32], items: impl Iterator<Item = usize>) -> Vec<(usize, f32)> {
        if query.len() != self.dims {
            return Vec::new();
        }
        let mut codes = Vec::with_capacity(self.dims);
        let scale = quantize(query, &mut codes);
        let probe = Probe { codes, scale };
        let mut scored: Vec<(usize, f32)> = items
            .filter(|&i| i < self.len())
            .map(|i| (i, 1.0 - self.distance(&probe, i as u32)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored
    }

    /// Item `node`'s vector as the 8-bit codes give it back.
    pub fn decoded(&self, node: usize, out: &mut Vec<f32>) {
        let scale = self.scales[node];
        out.clear();
        out.extend(self.codes(node as u32).iter().map(|&c| c as f32 * scale));
    }

    /// The `k` nearest items to `query` (unit length) as `(item, cosine similarity)`,
    /// best first, exploring `ef` candidates on the bottom layer (more: better recall,
    /// slower).
    pub fn search(&self, query: &[f32], k: usize, ef: usize) -> Vec<(usize, f32)> {
        if self.is_empty() || query.len() != self.dims || k == 0 {
            return Vec::new();
        }
        if !self.is_linked() {
            // Nothing to walk: score every item.
            let mut all = self.rescore(query, 0..self.len());
            all.truncate(k);
            return all;
        }
        let mut codes = Vec::with_capacity(self.dims);
        let scale = quantize(query, &mut codes);
        let probe = Probe { codes, scale };
        // Greedy descent through the upper layers.
        let mut best = Scored(self.distance(&probe, self.entry), self.entry);
        for layer in self.layers.iter().skip(1).rev() {
            loop {
                let mut moved = false;
                for &nb in layer.neighbours(best.1) {
                    let d = self.distance(&probe, nb);
                    if d < best.0 {
                        best = Scored(d, nb);
                        moved = true;
                    }
                }
                if !moved {
                    break;
                }
            }
        }
        let found = VISITED.with(|cell| {
            let mut guard = cell.borrow_mut();
            let (marks, generation) = &mut *guard;
            if marks.len() < self.len() {
                marks.resize(self.len(), 0);
            }
            *generation = generation.wrapping_add(1);
            if *generation == 0 {
                marks.iter_mut().for_each(|m| *m = 0);
                *generation = 1;
            }
            self.search_bottom(&probe, best, ef.max(k), marks, *generation)
        });
        found
            .into_iter()
            .take(k)
            .map(|Scored(d, id)| (id as usize, 1.0 - d))
            .collect()
    }

    /// Beam search on layer 0 from `start`; the closest `ef` found, nearest first.
    fn search_bottom(
        &self,
        probe: &Probe,
        start: Scored,
        ef: usize,
        marks: &mut [u32],
        generation: u32,
    ) -> Vec<Scored> {
        let bottom = &self.layers[0];
        let ef = ef.min(self.len());
        let mut candidates = BinaryHeap::with_capacity(ef * 2);
        let mut results: BinaryHeap<Scored> = BinaryHeap::with_capacity(ef + 1);
        marks[start.1 as usize] = generation;
        candidates.push(Reverse(start));
        results.push(start);
        let mut fresh: Vec<u32> = Vec::with_capacity(2 * MAX_NB_CONNECTION);
        while let Some(Reverse(current)) = candidates.pop() {
            let worst = results.peek().map_or(f32::INFINITY, |s| s.0);
            if current.0 > worst && results.len() >= ef {
                break;
            }
            // First mark the unvisited neighbours and ask for their vectors, so the
            // memory loads overlap instead of stalling one distance at a time.
            fresh.clear();
            for &nb in bottom.neighbours(current.1) {
                let mark = &mut marks[nb as usize];
                if *mark != generation {
                    *mark = generation;
                    self.prefetch(nb);
                    fresh.push(nb);
                }
            }
            for &nb in &fresh {
                let d = self.distance(probe, nb);
                let worst = results.peek().map_or(f32::INFINITY, |s| s.0);
                if results.len() < ef || d < worst {
                    candidates.push(Reverse(Scored(d, nb)));
                    results.push(Scored(d, nb));
                    if results.len() > ef {
                        results.pop();
                    }
                }
            }
        }
        results.into_sorted_vec()
    }

    /// Writes the graph (not the vectors, which are stored separately) as little-endian words.
    pub fn write_graph(&self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(MAGIC)?;
        let words = |out: &mut dyn Write, v: &[u32]| -> std::io::Result<()> {
            out.write_all(&(v.len() as u64).to_le_bytes())?;
            v.iter().try_for_each(|w| out.write_all(&w.to_le_bytes()))
        };
        words(out, &[self.entry, self.layers.len() as u32])?;
        for layer in &self.layers {
            words(out, &layer.nodes)?;
            words(out, &layer.offsets)?;
            words(out, &layer.ids)?;
        }
        Ok(())
    }

    /// Reads a graph written by [`Graph::write_graph`] for `vectors` (row-major,
    /// `dims` wide), checking that every reference is in range.
    pub fn read_graph(input: &mut impl Read, dims: usize, vectors: &[f32]) -> Result<Self, String> {
        let mut magic = [0u8; 8];
        input.read_exact(&mut magic).map_err(|e| e.to_string())?;
        if &magic != MAGIC {
            return Err("not an AutBot graph file (or another version)".into());
        }
        let n = vectors.len() / dims.max(1);
        let mut words = || -> Result<Vec<u32>, String> {
            let mut len = [0u8; 8];
            input.read_exact(&mut len).map_err(|e| e.to_string())?;
            let len = u64::from_le_bytes(len) as usize;
            if len > 64 * (n + 2) * MAX_NB_CONNECTION {
                return Err("graph file: a list is longer than the graph allows".into());
            }
            let mut bytes = vec![0u8; len * 4];
            input.read_exact(&mut bytes).map_err(|e| e.to_string())?;
            Ok(bytes
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        };
        let head = words()?;
        let [entry, count] = head[..] else {
            return Err("graph file: bad header".into());
        };
        if count == 0 || count as usize > MAX_LAYER + 1 || (n > 0 && entry as usize >= n) {
            return Err("graph file: bad header".into());
        }
        let mut layers = Vec::with_capacity(count as usize);
        for l in 0..count {
            let layer = Layer {
                nodes: words()?,
                offsets: words()?,
                ids: words()?,
            };
            let width = if l == 0 { n } else { layer.nodes.len() };
            let consistent = layer.offsets.len() == width + 1
                && layer.offsets.first() == Some(&0)
                && layer.offsets.windows(2).all(|w| w[0] <= w[1])
                && layer.offsets.last().map(|&o| o as usize) == Some(layer.ids.len())
                && layer
                    .ids
                    .iter()
                    .chain(&layer.nodes)
                    .all(|&i| (i as usize) < n)
                && (l == 0) == layer.nodes.is_empty()
                && layer.nodes.windows(2).all(|w| w[0] < w[1]);
            if !consistent {
                return Err(format!(
                    "graph file: layer {l} is inconsistent with {n} vectors"
                ));
            }
            layers.push(layer);
        }
        Ok(Self::assemble(
            dims,
            vectors.chunks_exact(dims.max(1)),
            entry,
            layers,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn unit_vectors(n: usize, dims: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let v: Vec<f32> = (0..dims).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect()
    }

    fn brute_force(data: &[Vec<f32>], q: &[f32], k: usize) -> Vec<usize> {
        let mut d: Vec<(f32, usize)> = data
            .iter()
            .enumerate()
            .map(|(i, v)| (1.0 - dot(v, q), i))
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0));
        d.into_iter().take(k).map(|x| x.1).collect()
    }

    #[test]
    fn finds_the_true_neighbours() {
        // Large enough for several layers (1 node in 24 above layer 0) yet quick in a
        // debug build; `cargo bench --bench hnsw_recall` measures recall at scale.
        let data = unit_vectors(600, 32, 1);
        let graph = Graph::build(&data).unwrap();
        assert_eq!(graph.len(), 600);
        let queries = unit_vectors(50, 32, 2);
        let mut found = 0;
        for q in &queries {
            let want = brute_force(&data, q, 10);
            let got = graph.search(q, 10, 128);
            assert_eq!(got.len(), 10);
            assert!(got.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
            found += got.iter().filter(|(id, _)| want.contains(id)).count();
        }
        let recall = found as f64 / 500.0;
        assert!(recall >= 0.9, "recall@10 {recall}");
        // An item is its own nearest neighbour, with similarity 1 (up to quantisation),
        // and the similarities agree with the exact ones.
        let hit = graph.search(&data[345], 3, 64);
        assert_eq!(hit[0].0, 345);
        assert!((hit[0].1 - 1.0).abs() < 5e-3, "{}", hit[0].1);
        for (id, sim) in hit {
            assert!((sim - dot(&data[id], &data[345])).abs() < 5e-3);
        }
    }

    #[test]
    fn an_unlinked_graph_keeps_codes_only_and_round_trips() {
        let data = unit_vectors(300, 16, 4);
        let linked = Graph::build(&data).unwrap();
        assert!(linked.is_linked());
        let bare = Graph::unlinked(&data).unwrap();
        assert!(!bare.is_linked());
        assert_eq!(bare.len(), 300);
        // Same codes: re-scoring gives the same similarities.
        let q = &data[7];
        assert_eq!(bare.rescore(q, 0..300usize), linked.rescore(q, 0..300usize));
        let mut bytes = Vec::new();
        bare.write_graph(&mut bytes).unwrap();
        let flat: Vec<f32> = data.iter().flatten().copied().collect();
        let back = Graph::read_graph(&mut bytes.as_slice(), 16, &flat).unwrap();
        assert!(back == bare && !back.is_linked());
        // A walk on it scores every item instead.
        let found = bare.search(q, 5, 16);
        assert_eq!(found.len(), 5);
        assert_eq!(found[0].0, 7);
        assert!(Graph::unlinked(&[]).is_none());
    }

    #[test]
    fn survives_a_round_trip_through_bytes() {
        let data = unit_vectors(500, 16, 3);
        let graph = Graph::build(&data).unwrap();
        let mut bytes = Vec::new();
        graph.write_graph(&mut bytes).unwrap();
        let flat: Vec<f32> = data.iter().flatten().copied().collect();
        let back = Graph::read_graph(&mut bytes.as_slice(), 16, &flat).unwrap();
        assert_eq!(back, graph);
        // Damage is refused, not trusted.
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] = 0xff;
        assert!(Graph::read_graph(&mut bad.as_slice(), 16, &flat).is_err());
        assert!(Graph::read_graph(&mut &bytes[..bytes.len() / 2], 16, &flat).is_err());
        assert!(Graph::read_graph(&mut &b"NOTAGRAPH"[..], 16, &flat).is_err());
    }

    #[test]
    fn tiny_and_empty_inputs() {
        assert!(Graph::build(&[]).is_none());
        let data = unit_vectors(1, 8, 4);
        let one = Graph::build(&data).unwrap();
        assert_eq!(one.search(&data[0], 5, 10).len(), 1);
        assert!(one.search(&[1.0; 7], 5, 10).is_empty(), "wrong dimensions");
    }
}
