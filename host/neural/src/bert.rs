//! The BERT encoder (inference only, `f32`) of sentence-transformer models such as
//! all-MiniLM-L6-v2, bge-small-en-v1.5 or e5-small-v2.
//!
//! Sequences are not padded: a batch is the concatenation of its sequences' tokens, so
//! every token-wise step (the projections, the feed-forward layers, layer norms) is one
//! matrix product over all the batch's tokens, and attention runs per sequence and head.

use crate::kernels::{self, matmul, View};
use crate::safetensors::SafeTensors;
use serde::Deserialize;

/// The fields of a Hugging Face `config.json` that a BERT encoder needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab_size")]
    pub type_vocab_size: usize,
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    #[serde(default)]
    pub model_type: Option<String>,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_type_vocab_size() -> usize {
    2
}
fn default_layer_norm_eps() -> f64 {
    1e-12
}
fn default_hidden_act() -> String {
    "gelu".into()
}

impl BertConfig {
    /// Refuses what this encoder does not implement, naming the field.
    pub fn check(&self) -> Result<(), String> {
        if let Some(t) = &self.model_type {
            if t != "bert" {
                return Err(format!(
                    "model_type \"{t}\" is not supported (only \"bert\" encoders are)"
                ));
            }
        }
        if let Some(p) = &self.position_embedding_type {
            if p != "absolute" {
                return Err(format!("position_embedding_type \"{p}\" is not supported"));
            }
        }
        if self.hidden_act != "gelu" {
            return Err(format!(
                "hidden_act \"{}\" is not supported (only \"gelu\")",
                self.hidden_act
            ));
        }
        let sizes = [
            self.vocab_size,
            self.hidden_size,
            self.num_hidden_layers,
            self.num_attention_heads,
            self.intermediate_size,
            self.max_position_embeddings,
            self.type_vocab_size,
        ];
        if sizes.iter().any(|&s| s == 0 || s > 1 << 20) {
            return Err("a size in config.json is 0 or absurdly large".into());
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err("hidden_size is not a multiple of num_attention_heads".into());
        }
        Ok(())
    }
}

struct Layer {
    /// Query, key and value projections side by side: `[hidden, 3 · hidden]`.
    qkv_w: Vec<f32>,
    qkv_b: Vec<f32>,
    /// `[hidden, hidden]`.
    attn_out_w: Vec<f32>,
    attn_out_b: Vec<f32>,
    ln1_g: Vec<f32>,
    ln1_b: Vec<f32>,
    /// `[hidden, intermediate]`.
    inter_w: Vec<f32>,
    inter_b: Vec<f32>,
    /// `[intermediate, hidden]`.
    out_w: Vec<f32>,
    out_b: Vec<f32>,
    ln2_g: Vec<f32>,
    ln2_b: Vec<f32>,
}

/// A loaded BERT encoder. Linear weights are stored transposed (`[in, out]`,
/// row-major), the layout the matrix products read fastest.
pub struct Bert {
    pub config: BertConfig,
    word_emb: Vec<f32>,
    pos_emb: Vec<f32>,
    type_emb: Vec<f32>,
    emb_ln_g: Vec<f32>,
    emb_ln_b: Vec<f32>,
    layers: Vec<Layer>,
}

/// Scratch buffers of one thread, grown as needed and reused across batches.
#[derive(Default)]
pub struct Workspace {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    tmp: Vec<f32>,
    inter: Vec<f32>,
    scores: Vec<f32>,
}

fn resize(v: &mut Vec<f32>, len: usize) {
    v.clear();
    v.resize(len, 0.0);
}

/// Transposes a row-major `[rows, cols]` matrix.
fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

/// Finds a tensor under the names checkpoints use: with or without the `bert.` prefix,
/// and the old `gamma`/`beta` names of layer-norm parameters.
fn resolve(st: &SafeTensors, name: &str) -> String {
    let mut candidates = vec![name.to_string(), format!("bert.{name}")];
    if let Some(stem) = name.strip_suffix("LayerNorm.weight") {
        candidates.push(format!("{stem}LayerNorm.gamma"));
        candidates.push(format!("bert.{stem}LayerNorm.gamma"));
    }
    if let Some(stem) = name.strip_suffix("LayerNorm.bias") {
        candidates.push(format!("{stem}LayerNorm.beta"));
        candidates.push(format!("bert.{stem}LayerNorm.beta"));
    }
    candidates
        .into_iter()
        .find(|c| st.contains(c))
        .unwrap_or_else(|| name.to_string())
}

impl Bert {
    /// Loads the weights from an open safetensors file.
    pub fn load(config: BertConfig, st: &mut SafeTensors) -> Result<Self, String> {
        config.check()?;
        let h = config.hidden_size;
        let i = config.intermediate_size;
        let mut get = |name: &str, shape: &[usize]| {
            let resolved = resolve(st, name);
            st.read_f32(&resolved, shape)
        };
        let word_emb = get("embeddings.word_embeddings.weight", &[config.vocab_size, h])?;
        let pos_emb = get(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
        )?;
        let type_emb = get(
            "embeddings.token_type_embeddings.weight",
            &[config.type_vocab_size, h],
        )?;
        let emb_ln_g = get("embeddings.LayerNorm.weight", &[h])?;
        let emb_ln_b = get("embeddings.LayerNorm.bias", &[h])?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            let q = transpose(
                &get(&format!("{p}.attention.self.query.weight"), &[h, h])?,
                h,
                h,
            );
            let k = transpose(
                &get(&format!("{p}.attention.self.key.weight"), &[h, h])?,
                h,
                h,
            );
            let v = transpose(
                &get(&format!("{p}.attention.self.value.weight"), &[h, h])?,
                h,
                h,
            );
            let mut qkv_w = Vec::with_capacity(3 * h * h);
            for r in 0..h {
                for m in [&q, &k, &v] {
                    qkv_w.extend_from_slice(&m[r * h..(r + 1) * h]);
                }
            }
            let mut qkv_b = get(&format!("{p}.attention.self.query.bias"), &[h])?;
            qkv_b.extend(get(&format!("{p}.attention.self.key.bias"), &[h])?);
            qkv_b.extend(get(&format!("{p}.attention.self.value.bias"), &[h])?);
            layers.push(Layer {
                qkv_w,
                qkv_b,
                attn_out_w: transpose(
                    &get(&format!("{p}.attention.output.dense.weight"), &[h, h])?,
                    h,
                    h,
                ),
                attn_out_b: get(&format!("{p}.attention.output.dense.bias"), &[h])?,
                ln1_g: get(&format!("{p}.attention.output.LayerNorm.weight"), &[h])?,
                ln1_b: get(&format!("{p}.attention.output.LayerNorm.bias"), &[h])?,
                inter_w: transpose(
                    &get(&format!("{p}.intermediate.dense.weight"), &[i, h])?,
                    i,
                    h,
                ),
                inter_b: get(&format!("{p}.intermediate.dense.bias"), &[i])?,
                out_w: transpose(&get(&format!("{p}.output.dense.weight"), &[h, i])?, h, i),
                out_b: get(&format!("{p}.output.dense.bias"), &[h])?,
                ln2_g: get(&format!("{p}.output.LayerNorm.weight"), &[h])?,
                ln2_b: get(&format!("{p}.output.LayerNorm.bias"), &[h])?,
            });
        }
        Ok(Self {
            config,
            word_emb,
            pos_emb,
            type_emb,
            emb_ln_g,
            emb_ln_b,
            layers,
        })
    }

    /// Bytes of weights held.
    pub fn weight_bytes(&self) -> usize {
        let layer: usize = self
            .layers
            .iter()
            .map(|l| {
                l.qkv_w.len()
                    + l.qkv_b.len()
                    + l.attn_out_w.len()
                    + l.attn_out_b.len()
                    + l.ln1_g.len()
                    + l.ln1_b.len()
                    + l.inter_w.len()
                    + l.inter_b.len()
                    + l.out_w.len()
                    + l.out_b.len()
                    + l.ln2_g.len()
                    + l.ln2_b.len()
            })
            .sum();
        4 * (layer
            + self.word_emb.len()
            + self.pos_emb.len()
            + self.type_emb.len()
            + self.emb_ln_g.len()
            + self.emb_ln_b.len())
    }

    /// Encodes a batch of sequences of token ids (each 1..=`max_position_embeddings`
    /// long, ids below `vocab_size`; checked) and returns their last hidden states, one
    /// `hidden_size`-long row per token, sequences one after the other.
    pub fn forward<'w>(&self, seqs: &[&[u32]], ws: &'w mut Workspace) -> Result<&'w [f32], String> {
        let c = &self.config;
        let h = c.hidden_size;
        let heads = c.num_attention_heads;
        let d = h / heads;
        let total: usize = seqs.iter().map(|s| s.len()).sum();
        let longest = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
        if longest > c.max_position_embeddings {
            return Err(format!(
                "a sequence of {longest} tokens exceeds the model's {} positions",
                c.max_position_embeddings
            ));
        }
        resize(&mut ws.x, total * h);
        resize(&mut ws.qkv, total * 3 * h);
        resize(&mut ws.ctx, total * h);
        resize(&mut ws.tmp, total * h);
        resize(&mut ws.inter, total * c.intermediate_size);
        resize(&mut ws.scores, longest * longest);

        // Embeddings: word + position + token type 0, then layer norm.
        let mut row = 0;
        for seq in seqs {
            for (pos, &id) in seq.iter().enumerate() {
                let id = id as usize;
                if id >= c.vocab_size {
                    return Err(format!("token id {id} is outside the vocabulary"));
                }
                let dst = &mut ws.x[row * h..(row + 1) * h];
                let w = &self.word_emb[id * h..(id + 1) * h];
                let p = &self.pos_emb[pos * h..(pos + 1) * h];
                let t = &self.type_emb[..h];
                for j in 0..h {
                    dst[j] = w[j] + p[j] + t[j];
                }
                row += 1;
            }
        }
        kernels::layer_norm(
            &mut ws.x,
            &self.emb_ln_g,
            &self.emb_ln_b,
            c.layer_norm_eps as f32,
        );

        let scale = 1.0 / (d as f32).sqrt();
        for layer in &self.layers {
            // Q, K, V for every token at once.
            kernels::fill_rows(&mut ws.qkv, 3 * h, &layer.qkv_b);
            matmul(
                &mut ws.qkv,
                3 * h,
                View::dense(&ws.x, total, h),
                View::dense(&layer.qkv_w, h, 3 * h),
                true,
                1.0,
            );
            // Attention, per sequence and head.
            let mut start = 0;
            for seq in seqs {
                let len = seq.len();
                let qkv = &ws.qkv[start * 3 * h..(start + len) * 3 * h];
                let scores = &mut ws.scores[..len * len];
                for head in 0..heads {
                    let q = View::columns(qkv, len, 3 * h, head * d, d);
                    let k = View::columns(qkv, len, 3 * h, h + head * d, d);
                    let v = View::columns(qkv, len, 3 * h, 2 * h + head * d, d);
                    matmul(scores, len, q, k.t(), false, scale);
                    kernels::softmax_rows(scores, len, len);
                    matmul(
                        &mut ws.ctx[start * h + head * d..(start + len) * h],
                        h,
                        View::dense(scores, len, len),
                        v,
                        false,
                        1.0,
                    );
                }
                start += len;
            }
            // Output projection + residual, layer norm.
            kernels::residual_plus_bias(&mut ws.tmp, &ws.x, &layer.attn_out_b);
            matmul(
                &mut ws.tmp,
                h,
                View::dense(&ws.ctx, total, h),
                View::dense(&layer.attn_out_w, h, h),
                true,
                1.0,
            );
            kernels::layer_norm(
                &mut ws.tmp,
                &layer.ln1_g,
                &layer.ln1_b,
                c.layer_norm_eps as f32,
            );
            // Feed-forward: GELU(x · W1 + b1) · W2 + b2 + x, layer norm.
            let i = c.intermediate_size;
            kernels::fill_rows(&mut ws.inter, i, &layer.inter_b);
            matmul(
                &mut ws.inter,
                i,
                View::dense(&ws.tmp, total, h),
                View::dense(&layer.inter_w, h, i),
                true,
                1.0,
            );
            kernels::gelu(&mut ws.inter);
            kernels::residual_plus_bias(&mut ws.x, &ws.tmp, &layer.out_b);
            matmul(
                &mut ws.x,
                h,
                View::dense(&ws.inter, total, i),
                View::dense(&layer.out_w, i, h),
                true,
                1.0,
            );
            kernels::layer_norm(
                &mut ws.x,
                &layer.ln2_g,
                &layer.ln2_b,
                c.layer_norm_eps as f32,
            );
        }
        Ok(&ws.x)
    }
}
