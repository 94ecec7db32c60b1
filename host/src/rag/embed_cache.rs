//! On-disk embedding cache keyed by (model, content hash): one append-only file per
//! model of fixed-size records `[32-byte SHA-256][dims × f32 LE]`. A torn last record
//! (crash while appending) is ignored on load.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Cached vectors of one embedding model.
pub struct EmbedCache {
    path: PathBuf,
    dims: usize,
    vectors: HashMap<[u8; 32], Vec<f32>>,
}

impl EmbedCache {
    /// Opens (or starts) the cache for `model_id` under `dir`.
    pub fn open(dir: &Path, model_id: &str, dims: usize) -> std::io::Result<Self> {
        let safe: String = model_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("embeddings-{safe}.bin"));
        let mut vectors = HashMap::new();
        if let Ok(mut f) = std::fs::File::open(&path) {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)?;
            let record = 32 + dims * 4;
            for rec in bytes.chunks_exact(record) {
                let mut key = [0u8; 32];
                key.copy_from_slice(&rec[..32]);
                let v = rec[32..]
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                vectors.insert(key, v);
            }
        }
        Ok(Self {
            path,
            dims,
            vectors,
        })
    }

    /// The cached vector for a content hash (hex), if any.
    pub fn get(&self, hash_hex: &str) -> Option<&Vec<f32>> {
        self.vectors.get(&key(hash_hex)?)
    }

    /// Adds vectors and appends them to the file.
    pub fn insert_all(&mut self, items: Vec<(String, Vec<f32>)>) -> std::io::Result<()> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let mut buf = Vec::with_capacity(items.len() * (32 + self.dims * 4));
        for (hash_hex, v) in items {
            let Some(k) = key(&hash_hex) else { continue };
            if v.len() != self.dims {
                continue;
            }
            buf.extend_from_slice(&k);
            for x in &v {
                buf.extend_from_slice(&x.to_le_bytes());
            }
            self.vectors.insert(k, v);
        }
        f.write_all(&buf)?;
        f.sync_data()
    }
}

fn key(hash_hex: &str) -> Option<[u8; 32]> {
    hex::decode(hash_hex).ok()?.try_into().ok()
}
