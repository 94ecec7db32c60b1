//! Tests of the neural embedder: against reference vectors of an independent
//! implementation (the real all-MiniLM-L6-v2, fetched by scripts/fetch-model.sh), and
//! on a tiny random BERT written here (model-folder handling, pooling, batching,
//! identity), which needs no download.

use super::*;
use crate::config::EmbeddingsConfig;
use serde::Deserialize;
use std::io::Write;
use std::path::PathBuf;

// ---------------------------------------------------------------------------------
// The real model against tests/fixtures/neural/minilm_reference.json
// ---------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Reference {
    model_safetensors_sha256: String,
    max_seq_length: usize,
    sentences: Vec<RefSentence>,
    cosines: Vec<(usize, usize, f32)>,
}

#[derive(Deserialize)]
struct RefSentence {
    text: String,
    token_ids: Vec<u32>,
    first8: Vec<f32>,
    embedding: Vec<f32>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The fetched model, or `None` (the test is skipped with a notice) unless
/// `AUTBOT_REQUIRE_MODEL` is set, as scripts/test.sh does: then a missing model fails.
fn real_model_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("AUTBOT_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models/all-MiniLM-L6-v2"));
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("AUTBOT_REQUIRE_MODEL").is_none(),
        "no model in {}: run scripts/fetch-model.sh",
        dir.display()
    );
    eprintln!(
        "SKIPPED: no model in {} (run scripts/fetch-model.sh)",
        dir.display()
    );
    None
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn matches_an_independent_implementation_of_all_minilm_l6_v2() {
    let Some(dir) = real_model_dir() else {
        return;
    };
    let text =
        std::fs::read_to_string(repo_root().join("tests/fixtures/neural/minilm_reference.json"))
            .expect("fixture");
    let reference: Reference = serde_json::from_str(&text).expect("fixture parses");
    let sha = {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut f = std::fs::File::open(dir.join("model.safetensors")).unwrap();
        std::io::copy(&mut f, &mut h).unwrap();
        hex::encode(h.finalize())
    };
    assert_eq!(
        sha, reference.model_safetensors_sha256,
        "not the reference's weights"
    );

    let model = SentenceModel::load(&dir).expect("model loads");
    assert_eq!(model.dimensions(), 384);
    assert_eq!(model.max_tokens(), reference.max_seq_length);
    assert_eq!(model.pooling(), Pooling::Mean);

    let texts: Vec<String> = reference.sentences.iter().map(|s| s.text.clone()).collect();
    // All at once, on two threads (ragged batches) ...
    let (batched, stats) = model.embed(&texts, 2).expect("embeds");
    assert_eq!(stats.texts, texts.len());
    assert_eq!(
        stats.truncated, 1,
        "only the long text exceeds 256 word pieces"
    );
    for (s, got) in reference.sentences.iter().zip(&batched) {
        let (ids, _) = model.tokenize(&s.text).unwrap();
        assert_eq!(ids, s.token_ids, "word pieces of {:?}", s.text);
        assert_eq!(got.len(), s.embedding.len());
        for (g, w) in got.iter().zip(&s.first8) {
            assert!(
                (g - w).abs() < 1e-4,
                "{:?}: first dims {:?} vs {:?}",
                s.text,
                &got[..8],
                s.first8
            );
        }
        let worst = got
            .iter()
            .zip(&s.embedding)
            .map(|(g, w)| (g - w).abs())
            .fold(0.0f32, f32::max);
        let short: String = s.text.chars().take(50).collect();
        eprintln!("{short:?}: max abs difference to the reference {worst:.2e}");
        // Measured ~1.6e-7 (the fixture has 7 decimals): 1e-5 leaves room for other
        // kernels (AVX2, another summation order), not for a wrong step.
        assert!(worst < 1e-5, "{short:?}: max abs difference {worst}");
        assert!((cosine(got, &s.embedding) - 1.0).abs() < 1e-5);
    }
    for &(i, j, want) in &reference.cosines {
        let got = cosine(&batched[i], &batched[j]);
        assert!(
            (got - want).abs() < 1e-4,
            "cosine({i},{j}) = {got}, reference {want}"
        );
    }
    // ... equals one at a time: sequences in a batch do not see each other.
    for (t, b) in texts.iter().zip(&batched) {
        let (single, _) = model.embed(std::slice::from_ref(t), 1).unwrap();
        let worst = single[0]
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{t:?}: batched and single differ by {worst}");
    }
    // Semantics, for good measure: the question is nearer its answer than bananas.
    assert!(cosine(&batched[0], &batched[1]) > cosine(&batched[0], &batched[2]) + 0.3);
}

#[tokio::test]
async fn the_configured_neural_embedder_loads_the_real_model() {
    let Some(dir) = real_model_dir() else {
        return;
    };
    let config = EmbeddingsConfig {
        model_dir: dir,
        threads: 2,
        ..EmbeddingsConfig::default()
    };
    let e = crate::embeddings::from_config(&config).expect("loads");
    assert_eq!(e.provider(), EmbeddingsProvider::Neural);
    assert_eq!(e.dimensions(), 384);
    assert!(
        e.model_id().starts_with("neural-all-MiniLM-L6-v2-"),
        "{}",
        e.model_id()
    );
    let v = e
        .embed(&["one".to_string(), "two words".to_string()])
        .await
        .unwrap();
    assert_eq!(v.len(), 2);
    assert!(e.embed(&[]).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------
// A tiny random BERT (no download)
// ---------------------------------------------------------------------------------

const WORDS: [&str; 12] = [
    "the", "server", "port", "listens", "on", "change", "how", "do", "i", "bananas", "are", "##s",
];

struct Tiny {
    dir: tempfile::TempDir,
}

impl Tiny {
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn pseudo_random(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.4
        })
        .collect()
}

/// A 2-layer, 16-wide, 2-head BERT with random weights, a WordPiece vocabulary of a
/// few words, mean pooling and `max_seq_length`.
fn tiny_model(max_seq_length: usize, pooling: &str) -> Tiny {
    let dir = tempfile::tempdir().unwrap();
    let (h, inter, layers, positions) = (16usize, 32usize, 2usize, 64usize);
    let mut vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "?", "."]
        .iter()
        .map(|s| s.to_string())
        .collect();
    vocab.extend(WORDS.iter().map(|s| s.to_string()));
    let config = serde_json::json!({
        "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
        "hidden_size": h, "intermediate_size": inter, "num_hidden_layers": layers,
        "num_attention_heads": 2, "max_position_embeddings": positions,
        "type_vocab_size": 2, "vocab_size": vocab.len(), "layer_norm_eps": 1e-12,
        "position_embedding_type": "absolute"
    });
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let vocab_map: serde_json::Map<String, serde_json::Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, w)| (w.clone(), serde_json::json!(i)))
        .collect();
    let special = |t: &str, id: usize| {
        serde_json::json!({"id": id, "content": t, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true})
    };
    let tokenizer = serde_json::json!({
        "version": "1.0",
        // As all-MiniLM-L6-v2's file: its own truncation and padding, to be overridden.
        "truncation": {"direction": "Right", "max_length": 128, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 128}, "direction": "Right", "pad_to_multiple_of": null,
            "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": [special("[PAD]", 0), special("[UNK]", 1), special("[CLS]", 2), special("[SEP]", 3), special("[MASK]", 4)],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
            "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                               "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": vocab_map}
    });
    std::fs::write(dir.path().join("tokenizer.json"), tokenizer.to_string()).unwrap();
    std::fs::create_dir_all(dir.path().join("1_Pooling")).unwrap();
    std::fs::write(dir.path().join("1_Pooling/config.json"), pooling).unwrap();
    std::fs::write(
        dir.path().join("sentence_bert_config.json"),
        format!(r#"{{"max_seq_length": {max_seq_length}, "do_lower_case": false}}"#),
    )
    .unwrap();

    let mut tensors: Vec<(String, Vec<usize>)> = vec![
        (
            "embeddings.word_embeddings.weight".into(),
            vec![vocab.len(), h],
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![positions, h],
        ),
        ("embeddings.token_type_embeddings.weight".into(), vec![2, h]),
        ("embeddings.LayerNorm.weight".into(), vec![h]),
        ("embeddings.LayerNorm.bias".into(), vec![h]),
    ];
    for l in 0..layers {
        let p = format!("encoder.layer.{l}");
        for (name, shape) in [
            ("attention.self.query.weight", vec![h, h]),
            ("attention.self.query.bias", vec![h]),
            ("attention.self.key.weight", vec![h, h]),
            ("attention.self.key.bias", vec![h]),
            ("attention.self.value.weight", vec![h, h]),
            ("attention.self.value.bias", vec![h]),
            ("attention.output.dense.weight", vec![h, h]),
            ("attention.output.dense.bias", vec![h]),
            ("attention.output.LayerNorm.weight", vec![h]),
            ("attention.output.LayerNorm.bias", vec![h]),
            ("intermediate.dense.weight", vec![inter, h]),
            ("intermediate.dense.bias", vec![inter]),
            ("output.dense.weight", vec![h, inter]),
            ("output.dense.bias", vec![h]),
            ("output.LayerNorm.weight", vec![h]),
            ("output.LayerNorm.bias", vec![h]),
        ] {
            tensors.push((format!("{p}.{name}"), shape));
        }
    }
    // Old checkpoints name the weights `bert.…`: the loader accepts both.
    let mut header = serde_json::Map::new();
    let mut data: Vec<u8> = Vec::new();
    for (i, (name, shape)) in tensors.iter().enumerate() {
        let n: usize = shape.iter().product();
        let mut values = pseudo_random(n, i as u64 + 1);
        if name.ends_with("LayerNorm.weight") {
            values.iter_mut().for_each(|v| *v += 1.0);
        }
        let begin = data.len();
        for v in values {
            data.extend_from_slice(&v.to_le_bytes());
        }
        header.insert(
            format!("bert.{name}"),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [begin, data.len()]}),
        );
    }
    let header = serde_json::Value::Object(header).to_string();
    let mut f = std::fs::File::create(dir.path().join("model.safetensors")).unwrap();
    f.write_all(&(header.len() as u64).to_le_bytes()).unwrap();
    f.write_all(header.as_bytes()).unwrap();
    f.write_all(&data).unwrap();
    Tiny { dir }
}

const MEAN: &str = r#"{"word_embedding_dimension": 16, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false}"#;
const CLS: &str = r#"{"word_embedding_dimension": 16, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#;

#[test]
fn a_tiny_model_embeds_unit_vectors_and_batches_do_not_mix() {
    let tiny = tiny_model(64, MEAN);
    let model = SentenceModel::load(tiny.path()).expect("loads");
    assert_eq!((model.dimensions(), model.max_tokens()), (16, 64));
    let (ids, cut) = model.tokenize("How do I change the servers port?").unwrap();
    assert!(!cut);
    // [CLS] how do i change the server ##s port ? [SEP]: no padding to 128.
    assert_eq!(ids.len(), 11, "{ids:?}");
    assert_eq!((ids[0], ids[ids.len() - 1]), (2, 3));
    let texts: Vec<String> = [
        "the server listens on the port",
        "bananas",
        "how do i change the port?",
        "",
        "unknownword the the the the the the the the the the the the the the the the",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (all, stats) = model.embed(&texts, 3).unwrap();
    assert_eq!(stats.texts, 5);
    for (t, v) in texts.iter().zip(&all) {
        let norm = cosine(v, v).sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{t:?}: norm {norm}");
        let (one, _) = model.embed(std::slice::from_ref(t), 1).unwrap();
        let worst = one[0]
            .iter()
            .zip(v)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{t:?} differs by {worst} in a batch");
    }
    assert!(
        cosine(&all[0], &all[1]) < 0.999,
        "different texts, different vectors"
    );
    assert!(model.embed(&[], 2).unwrap().0.is_empty());
}

#[test]
fn truncates_at_max_seq_length_and_counts_it() {
    let tiny = tiny_model(8, MEAN);
    let model = SentenceModel::load(tiny.path()).unwrap();
    let long = "the server listens on the port the server listens on the port".to_string();
    let (ids, cut) = model.tokenize(&long).unwrap();
    assert!(cut);
    assert_eq!(ids.len(), 8, "special tokens included");
    assert_eq!(ids[7], 3, "ends with [SEP]");
    assert_eq!(
        model.count_tokens(&long).unwrap(),
        14,
        "12 words + [CLS], [SEP]"
    );
    assert_eq!(model.count_tokens("the port").unwrap(), 4);
    let e = NeuralEmbedder::load(tiny.path(), 1).unwrap();
    assert_eq!(
        (e.token_limit(), e.count_tokens(&long)),
        (Some(8), Some(14))
    );
    // Everything after the 6th word piece is ignored.
    let (v, stats) = model
        .embed(&[long, "the server listens on the port".to_string()], 1)
        .unwrap();
    assert_eq!(stats.truncated, 1);
    assert!(cosine(&v[0], &v[1]) > 0.99999);
}

#[test]
fn pooling_follows_the_pooling_config() {
    let mean = tiny_model(64, MEAN);
    let cls = tiny_model(64, CLS);
    let m = SentenceModel::load(mean.path()).unwrap();
    let c = SentenceModel::load(cls.path()).unwrap();
    assert_eq!((m.pooling(), c.pooling()), (Pooling::Mean, Pooling::Cls));
    let t = vec!["the server listens on the port".to_string()];
    let (vm, _) = m.embed(&t, 1).unwrap();
    let (vc, _) = c.embed(&t, 1).unwrap();
    assert!(
        cosine(&vm[0], &vc[0]) < 0.999,
        "same weights, other pooling"
    );
    assert_ne!(m.digest(), c.digest(), "pooling is part of the identity");

    let bad = tiny_model(
        64,
        r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true}"#,
    );
    let err = SentenceModel::load(bad.path()).err().unwrap();
    assert!(err.contains("1_Pooling"), "{err}");
    // No pooling config at all: mean, as sentence-transformers does.
    std::fs::remove_dir_all(mean.path().join("1_Pooling")).unwrap();
    assert_eq!(
        SentenceModel::load(mean.path()).unwrap().pooling(),
        Pooling::Mean
    );
}

#[test]
fn the_model_id_changes_with_the_weights() {
    let tiny = tiny_model(64, MEAN);
    let a = NeuralEmbedder::load(tiny.path(), 1).unwrap();
    let same = NeuralEmbedder::load(tiny.path(), 2).unwrap();
    assert_eq!(
        a.model_id(),
        same.model_id(),
        "threads do not change vectors"
    );
    let path = tiny.path().join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let b = NeuralEmbedder::load(tiny.path(), 1).unwrap();
    assert_ne!(a.model_id(), b.model_id());
    assert!(a.model_id().len() < 100, "used in a cache file name");
}

#[test]
fn broken_model_folders_are_refused_with_the_file_named() {
    let tiny = tiny_model(64, MEAN);
    let config = tiny.path().join("config.json");
    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, original.replace("\"gelu\"", "\"relu\"")).unwrap();
    let err = SentenceModel::load(tiny.path()).err().unwrap();
    assert!(err.contains("config.json") && err.contains("relu"), "{err}");
    std::fs::write(&config, original.replace("\"bert\"", "\"roberta\"")).unwrap();
    assert!(SentenceModel::load(tiny.path())
        .err()
        .unwrap()
        .contains("roberta"));
    std::fs::write(
        &config,
        original.replace("\"hidden_size\":16", "\"hidden_size\":32"),
    )
    .unwrap();
    let err = SentenceModel::load(tiny.path()).err().unwrap();
    assert!(
        err.contains("model.safetensors") && err.contains("shape"),
        "{err}"
    );
    std::fs::write(&config, &original).unwrap();
    std::fs::write(tiny.path().join("tokenizer.json"), "{").unwrap();
    assert!(SentenceModel::load(tiny.path())
        .err()
        .unwrap()
        .contains("tokenizer.json"));
    std::fs::remove_file(tiny.path().join("model.safetensors")).unwrap();
    let err = SentenceModel::load(tiny.path()).err().unwrap();
    assert!(err.contains("model.safetensors is missing"), "{err}");
    assert!(!is_absent(tiny.path()), "some files are there");
    let empty = tempfile::tempdir().unwrap();
    assert!(is_absent(empty.path()));
    assert!(is_absent(&empty.path().join("nope")));
}

#[tokio::test]
async fn from_config_falls_back_to_local_without_a_model_and_refuses_a_broken_one() {
    let empty = tempfile::tempdir().unwrap();
    let mut config = EmbeddingsConfig {
        model_dir: empty.path().join("all-MiniLM-L6-v2"),
        ..EmbeddingsConfig::default()
    };
    assert_eq!(config.provider, EmbeddingsProvider::Neural, "the default");
    let e = crate::embeddings::from_config(&config).expect("falls back");
    assert_eq!(e.provider(), EmbeddingsProvider::Local);
    assert_eq!(e.dimensions(), config.dimensions);

    let tiny = tiny_model(64, MEAN);
    config.model_dir = tiny.path().to_path_buf();
    let e = crate::embeddings::from_config(&config).expect("loads");
    assert_eq!(e.provider(), EmbeddingsProvider::Neural);
    assert_eq!(e.dimensions(), 16);
    let v = e.embed(&["the port".to_string()]).await.unwrap();
    assert_eq!(v[0].len(), 16);

    std::fs::write(tiny.path().join("model.safetensors"), b"garbage").unwrap();
    let err = crate::embeddings::from_config(&config).err().unwrap();
    assert!(
        err.contains("embeddings.model_dir") && err.contains("fetch-model.sh"),
        "{err}"
    );
}
