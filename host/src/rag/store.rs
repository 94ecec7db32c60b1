//! Persistence of an index directory: `manifest.json`, `chunks.jsonl`, `vectors.f32`
//! (little-endian, chunk order) and `graph.bin` (the frozen HNSW graph, so loading
//! never rebuilds it). Written to a sibling temporary directory and renamed into
//! place, so a crash never leaves a half-written index.

use super::graph::Graph;
use super::index::{Index, Manifest};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

/// Writes the index files into `dir`, replacing what was there; `vectors[i]` is the
/// embedding of chunk `i` (the graph keeps only 8-bit codes of them).
pub fn save(dir: &Path, index: &Index, vectors: &[Vec<f32>]) -> std::io::Result<()> {
    let (manifest, chunks) = (&index.manifest, &index.chunks);
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("index");
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;

    let mut w = BufWriter::new(std::fs::File::create(tmp.join("chunks.jsonl"))?);
    for c in chunks {
        serde_json::to_writer(&mut w, c)?;
        w.write_all(b"\n")?;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;

    let mut w = BufWriter::new(std::fs::File::create(tmp.join("vectors.f32"))?);
    for x in vectors.iter().flatten() {
        w.write_all(&x.to_le_bytes())?;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;

    if let Some(graph) = index.graph() {
        let mut w = BufWriter::new(std::fs::File::create(tmp.join("graph.bin"))?);
        graph.write_graph(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }

    // The manifest last: its presence marks a complete index.
    std::fs::write(
        tmp.join("manifest.json"),
        serde_json::to_vec_pretty(manifest)?,
    )?;

    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    if dir.exists() {
        std::fs::rename(dir, &old)?;
    }
    std::fs::rename(&tmp, dir)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Reads only the manifest (None when there is no complete index in `dir`).
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>, String> {
    match std::fs::read(dir.join("manifest.json")) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", dir.join("manifest.json").display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

/// Loads a saved index: chunks, vectors and the stored graph (BM25 is rebuilt).
pub fn load(dir: &Path, manifest: Manifest) -> Result<Index, String> {
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    let file = std::fs::File::open(dir.join("chunks.jsonl")).map_err(io)?;
    let mut chunks = Vec::with_capacity(manifest.chunks);
    for line in BufReader::new(file).lines() {
        let line = line.map_err(io)?;
        chunks.push(serde_json::from_str(&line).map_err(|e| format!("chunks.jsonl: {e}"))?);
    }
    let mut bytes = Vec::new();
    std::fs::File::open(dir.join("vectors.f32"))
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io)?;
    let dims = manifest.dimensions;
    if chunks.len() != manifest.chunks || bytes.len() != chunks.len() * dims * 4 {
        return Err(format!(
            "{}: the index files are inconsistent (manifest says {} chunks of {} dimensions)",
            dir.display(),
            manifest.chunks,
            dims
        ));
    }
    let vectors: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    drop(bytes);
    let graph = if vectors.is_empty() {
        None
    } else {
        let file = std::fs::File::open(dir.join("graph.bin")).map_err(io)?;
        let graph = Graph::read_graph(&mut BufReader::new(file), dims, &vectors)
            .map_err(|e| format!("{}: {e}", dir.join("graph.bin").display()))?;
        Some(graph)
    };
    drop(vectors);
    Ok(Index::with_graph(manifest, chunks, graph))
}
