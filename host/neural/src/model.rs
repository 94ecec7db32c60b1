//! A sentence-transformer model folder: `config.json` (the BERT encoder),
//! `tokenizer.json` (Hugging Face `tokenizers`), `model.safetensors` (weights),
//! `1_Pooling/config.json` (pooling; mean when absent) and optionally
//! `sentence_bert_config.json` (`max_seq_length`). Embedding = tokenise (truncating
//! at the model's limit), encode, pool, L2-normalise.

use crate::bert::{Bert, BertConfig, Workspace};
use crate::safetensors::SafeTensors;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tokenizers::{Tokenizer, TruncationParams};

/// The files a model folder must hold.
pub const REQUIRED_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Tokens per batch: large enough for efficient matrix products, small enough that
/// a thread's scratch buffers stay ~15 MB (about 15 KB per token for a 384-wide model).
const BATCH_TOKENS: usize = 1024;

/// How token vectors become one sentence vector (`1_Pooling/config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    Cls,
    Mean,
    Max,
    MeanSqrtLen,
}

impl Pooling {
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Cls => "cls",
            Pooling::Mean => "mean",
            Pooling::Max => "max",
            Pooling::MeanSqrtLen => "mean_sqrt_len",
        }
    }
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

/// What one call embedded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EmbedStats {
    pub texts: usize,
    /// Word pieces encoded, special tokens included.
    pub tokens: usize,
    /// Texts cut at the model's limit.
    pub truncated: usize,
}

/// A loaded sentence-embedding model.
pub struct SentenceModel {
    bert: Bert,
    tokenizer: Tokenizer,
    pooling: Pooling,
    max_tokens: usize,
    digest: String,
    dir: PathBuf,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

impl SentenceModel {
    /// Loads the model in `dir`. Errors name the file at fault.
    pub fn load(dir: &Path) -> Result<Self, String> {
        for f in REQUIRED_FILES {
            if !dir.join(f).is_file() {
                return Err(format!("{} is missing", dir.join(f).display()));
            }
        }
        let config: BertConfig = read_json(&dir.join("config.json"))?;
        config
            .check()
            .map_err(|e| format!("{}: {e}", dir.join("config.json").display()))?;

        let pooling = read_pooling(dir)?;
        let mut max_tokens = config.max_position_embeddings;
        let sbert = dir.join("sentence_bert_config.json");
        if sbert.is_file() {
            if let Some(m) = read_json::<SentenceBertConfig>(&sbert)?.max_seq_length {
                max_tokens = max_tokens.min(m);
            }
        }
        if max_tokens < 3 {
            return Err(format!("{}: max_seq_length below 3", sbert.display()));
        }

        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| format!("{}: {e}", dir.join("tokenizer.json").display()))?;
        // The file may carry its own truncation and padding (all-MiniLM-L6-v2's pads to
        // 128): truncate at the model's limit, never pad (batches are not padded).
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| format!("tokenizer: {e}"))?;
        tokenizer.with_padding(None);

        let digest = digest(dir, &pooling, max_tokens)?;
        let mut st = SafeTensors::open(&dir.join("model.safetensors"))?;
        let bert = Bert::load(config, &mut st)
            .map_err(|e| format!("{}: {e}", dir.join("model.safetensors").display()))?;
        Ok(Self {
            bert,
            tokenizer,
            pooling,
            max_tokens,
            digest,
            dir: dir.to_path_buf(),
        })
    }

    /// Vector length.
    pub fn dimensions(&self) -> usize {
        self.bert.config.hidden_size
    }

    /// Word pieces per text at most, special tokens included.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// SHA-256 (hex) over the model's files and the settings that change its vectors.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes of weights in memory.
    pub fn weight_bytes(&self) -> usize {
        self.bert.weight_bytes()
    }

    /// Token ids of a text (truncated at [`Self::max_tokens`]) and whether it was cut.
    pub fn tokenize(&self, text: &str) -> Result<(Vec<u32>, bool), String> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| format!("tokenizer: {e}"))?;
        Ok((enc.get_ids().to_vec(), !enc.get_overflowing().is_empty()))
    }

    /// Word pieces of a text before truncation, special tokens included.
    pub fn count_tokens(&self, text: &str) -> Result<usize, String> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| format!("tokenizer: {e}"))?;
        Ok(enc.len()
            + enc
                .get_overflowing()
                .iter()
                .map(|o| o.len() - 2)
                .sum::<usize>())
    }

    /// Embeds `texts` (L2-normalised vectors, in order) on up to `threads` threads.
    /// Texts are sorted by length and batched so that similar lengths go together.
    pub fn embed(
        &self,
        texts: &[String],
        threads: usize,
    ) -> Result<(Vec<Vec<f32>>, EmbedStats), String> {
        let mut stats = EmbedStats {
            texts: texts.len(),
            ..Default::default()
        };
        let mut ids = Vec::with_capacity(texts.len());
        for t in texts {
            let (tokens, truncated) = self.tokenize(t)?;
            stats.tokens += tokens.len();
            stats.truncated += usize::from(truncated);
            ids.push(tokens);
        }
        // Longest first, so the costliest batches start first.
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let mut batches: Vec<Vec<usize>> = Vec::new();
        let mut tokens = 0;
        for i in order {
            let len = ids[i].len();
            match batches.last_mut() {
                Some(b) if tokens + len <= BATCH_TOKENS => b.push(i),
                _ => {
                    batches.push(vec![i]);
                    tokens = 0;
                }
            }
            tokens += len;
        }

        let out: Mutex<Vec<Vec<f32>>> = Mutex::new(vec![Vec::new(); texts.len()]);
        let next = AtomicUsize::new(0);
        let work = || -> Result<(), String> {
            let mut ws = Workspace::default();
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = batches.get(b) else {
                    return Ok(());
                };
                let seqs: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_slice()).collect();
                let vectors = self.encode_batch(&seqs, &mut ws)?;
                let mut out = out
                    .lock()
                    .map_err(|_| "embedding worker panicked".to_string())?;
                for (&i, v) in batch.iter().zip(vectors) {
                    out[i] = v;
                }
            }
        };
        let workers = threads.clamp(1, batches.len().max(1));
        if workers == 1 {
            work()?;
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (1..workers).map(|_| s.spawn(work)).collect();
                let mut result = work();
                for h in handles {
                    let r = h
                        .join()
                        .unwrap_or_else(|_| Err("embedding worker panicked".into()));
                    result = result.and(r);
                }
                result
            })?;
        }
        let out = out
            .into_inner()
            .map_err(|_| "embedding worker panicked".to_string())?;
        Ok((out, stats))
    }

    /// Encodes one batch and pools each sequence into a normalised vector.
    fn encode_batch(&self, seqs: &[&[u32]], ws: &mut Workspace) -> Result<Vec<Vec<f32>>, String> {
        let h = self.dimensions();
        let hidden = self.bert.forward(seqs, ws)?;
        let mut out = Vec::with_capacity(seqs.len());
        let mut start = 0;
        for seq in seqs {
            let rows = &hidden[start * h..(start + seq.len()) * h];
            start += seq.len();
            let mut v = vec![0.0f32; h];
            match self.pooling {
                Pooling::Cls => v.copy_from_slice(&rows[..h]),
                Pooling::Max => {
                    v.fill(f32::NEG_INFINITY);
                    for r in rows.chunks_exact(h) {
                        for (a, b) in v.iter_mut().zip(r) {
                            *a = a.max(*b);
                        }
                    }
                }
                Pooling::Mean | Pooling::MeanSqrtLen => {
                    for r in rows.chunks_exact(h) {
                        for (a, b) in v.iter_mut().zip(r) {
                            *a += b;
                        }
                    }
                    let n = seq.len().max(1) as f32;
                    let div = if self.pooling == Pooling::Mean {
                        n
                    } else {
                        n.sqrt()
                    };
                    v.iter_mut().for_each(|a| *a /= div);
                }
            }
            crate::normalize(&mut v);
            out.push(v);
        }
        Ok(out)
    }
}

/// The pooling of the folder's `1_Pooling/config.json` (or the Pooling module that
/// `modules.json` names); mean pooling when there is none.
fn read_pooling(dir: &Path) -> Result<Pooling, String> {
    let mut path = dir.join("1_Pooling").join("config.json");
    let modules = dir.join("modules.json");
    if modules.is_file() {
        let list: Vec<serde_json::Value> = read_json(&modules)?;
        if let Some(p) = list.iter().find(|m| {
            m.get("type")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.ends_with("models.Pooling"))
        }) {
            if let Some(sub) = p.get("path").and_then(|p| p.as_str()) {
                if sub.contains("..") || Path::new(sub).is_absolute() {
                    return Err(format!("{}: bad pooling path", modules.display()));
                }
                path = dir.join(sub).join("config.json");
            }
        }
    }
    if !path.is_file() {
        return Ok(Pooling::Mean);
    }
    let c: PoolingConfig = read_json(&path)?;
    let modes = [
        (c.pooling_mode_cls_token, Pooling::Cls),
        (c.pooling_mode_mean_tokens, Pooling::Mean),
        (c.pooling_mode_max_tokens, Pooling::Max),
        (c.pooling_mode_mean_sqrt_len_tokens, Pooling::MeanSqrtLen),
    ];
    let chosen: Vec<Pooling> = modes
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, p)| *p)
        .collect();
    if c.pooling_mode_weightedmean_tokens || c.pooling_mode_lasttoken || chosen.len() != 1 {
        return Err(format!(
            "{}: exactly one of cls, mean, max or mean_sqrt_len pooling must be on",
            path.display()
        ));
    }
    Ok(chosen[0])
}

/// SHA-256 over the weights, the encoder and tokenizer configuration and the pooling
/// settings: any change to the model gives another id, so indexes and cached vectors
/// of the old one are not reused.
fn digest(dir: &Path, pooling: &Pooling, max_tokens: usize) -> Result<String, String> {
    let mut h = Sha256::new();
    h.update(b"autbot-bert-v1\0");
    h.update(pooling.name().as_bytes());
    h.update(max_tokens.to_le_bytes());
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        let path = dir.join(f);
        let mut file =
            std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut buf = vec![0u8; 1 << 20];
        h.update(f.as_bytes());
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(hex::encode(h.finalize()))
}
