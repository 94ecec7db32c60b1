//! The data-folder walk. Only regular files inside the folder are read, each through
//! a bounded reader:
//!
//! - The folder is resolved to its real path first, and the walk does not follow
//!   links. A symbolic link is resolved (`canonicalize`) and read only when its target
//!   is a regular, non-hidden file inside the folder; a link leading outside (such as
//!   `notes.txt -> /proc/self/environ`), to a folder, or nowhere is skipped. The file
//!   type comes from the target's name, so a link cannot turn an unsupported file into
//!   a document.
//! - FIFOs, sockets and devices are skipped, and files are opened with `O_NONBLOCK`
//!   (a FIFO swapped in after the check does not block the walk) and `O_NOFOLLOW`.
//!   After opening, the real path of the open descriptor (`/proc/self/fd`) is checked
//!   again, which closes the race of a folder replaced by a link meanwhile.
//! - Each file is read up to `index.max_file_bytes` (+1 byte to notice a larger one)
//!   and must yield exactly the size the file system reported (`/proc` files say 0);
//!   all files together up to `index.max_total_bytes`.
//!
//! Every file not read is reported by name with the reason.

use super::Skipped;
use crate::rag::document;
use std::path::{Component, Path, PathBuf};

/// A file read from the data folder.
pub(super) struct FileRead {
    /// Path relative to the data folder, with `/` separators.
    pub source: String,
    /// The lower-cased extension of the file actually read.
    pub ext: String,
    pub bytes: Vec<u8>,
}

/// Byte limits of one walk.
#[derive(Debug, Clone, Copy)]
pub(super) struct WalkLimits {
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
}

/// Walks `data_dir` (sorted, hidden entries ignored), calling `on_file` with each
/// supported regular file and `on_skip` with each entry not read.
pub(super) fn walk(
    data_dir: &Path,
    limits: WalkLimits,
    mut on_file: impl FnMut(FileRead),
    mut on_skip: impl FnMut(Skipped),
) -> Result<(), String> {
    let root = std::fs::canonicalize(data_dir)
        .ok()
        .filter(|r| r.is_dir())
        .ok_or_else(|| format!("the data folder {} does not exist", data_dir.display()))?;
    let mut total: u64 = 0;
    let walker = walkdir::WalkDir::new(&root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map(|p| relative(&root, p)).unwrap_or_default();
                on_skip(Skipped {
                    path,
                    reason: format!("unreadable: {e}"),
                });
                continue;
            }
        };
        if entry.depth() == 0 || entry.file_type().is_dir() {
            continue;
        }
        let source = relative(&root, entry.path());
        let skip = |reason: String| Skipped {
            path: source.clone(),
            reason,
        };
        let target = match resolve(&root, &entry) {
            Ok(t) => t,
            Err(reason) => {
                on_skip(skip(reason));
                continue;
            }
        };
        let ext = document::extension(&target);
        if !document::SUPPORTED_EXTENSIONS.contains(&ext.as_str()) {
            on_skip(skip(if ext.is_empty() {
                "unsupported file type (no extension)".into()
            } else {
                format!("unsupported file type `.{ext}`")
            }));
            continue;
        }
        match read(&root, &target, limits, &mut total) {
            Ok(bytes) => on_file(FileRead { source, ext, bytes }),
            Err(reason) => on_skip(skip(reason)),
        }
    }
    Ok(())
}

/// The path to read for `entry`: itself when it is a regular file, its target when it
/// is a symbolic link to a regular, visible file inside `root`.
fn resolve(root: &Path, entry: &walkdir::DirEntry) -> Result<PathBuf, String> {
    let file_type = entry.file_type();
    if file_type.is_file() {
        return Ok(entry.path().to_path_buf());
    }
    if !file_type.is_symlink() {
        return Err("not a regular file (a FIFO, socket or device)".into());
    }
    let real =
        std::fs::canonicalize(entry.path()).map_err(|e| format!("broken symbolic link: {e}"))?;
    let Ok(inside) = real.strip_prefix(root) else {
        return Err(format!(
            "symbolic link to {}, outside the data folder",
            real.display()
        ));
    };
    if inside.components().any(|c| match c {
        Component::Normal(name) => name.to_string_lossy().starts_with('.'),
        _ => false,
    }) {
        return Err("symbolic link to a hidden file".into());
    }
    let meta = std::fs::metadata(&real).map_err(|e| format!("unreadable: {e}"))?;
    if meta.is_dir() {
        return Err("symbolic link to a folder (not followed)".into());
    }
    if !meta.is_file() {
        return Err("symbolic link to something other than a regular file".into());
    }
    Ok(real)
}

/// Reads `path` (a regular file inside `root`) within the byte limits.
fn read(root: &Path, path: &Path, limits: WalkLimits, total: &mut u64) -> Result<Vec<u8>, String> {
    let mut file = open_no_follow(path).map_err(|e| format!("unreadable: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("unreadable: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file (a FIFO, socket or device)".into());
    }
    if let Some(opened) = opened_path(&file) {
        if !opened.starts_with(root) {
            return Err(format!(
                "resolved to {}, outside the data folder, when opened",
                opened.display()
            ));
        }
    }
    if meta.len() <= limits.max_file_bytes
        && total.saturating_add(meta.len()) > limits.max_total_bytes
    {
        return Err(format!(
            "not read: the data folder holds more than index.max_total_bytes ({} bytes)",
            limits.max_total_bytes
        ));
    }
    let bytes = document::read_bounded(&mut file, meta.len(), limits.max_file_bytes)?;
    *total += bytes.len() as u64;
    Ok(bytes)
}

fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Where an open file really is, when the system can tell (`/proc/self/fd`).
fn opened_path(file: &std::fs::File) -> Option<PathBuf> {
    use std::os::unix::io::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()
}

/// `path` relative to `root`, with `/` separators.
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: WalkLimits = WalkLimits {
        max_file_bytes: 1000,
        max_total_bytes: 1500,
    };

    fn run(dir: &Path, limits: WalkLimits) -> (Vec<(String, Vec<u8>)>, Vec<Skipped>) {
        let mut files = Vec::new();
        let mut skipped = Vec::new();
        walk(
            dir,
            limits,
            |f| files.push((f.source, f.bytes)),
            |s| skipped.push(s),
        )
        .unwrap();
        (files, skipped)
    }

    fn reason<'a>(skipped: &'a [Skipped], path: &str) -> &'a str {
        skipped
            .iter()
            .find(|s| s.path == path)
            .map(|s| s.reason.as_str())
            .unwrap_or_else(|| panic!("{path} not skipped: {skipped:?}"))
    }

    #[test]
    fn only_regular_files_inside_the_folder_are_read() {
        let work = tempfile::tempdir().unwrap();
        let data = work.path().join("data");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::write(work.path().join("outside.txt"), "secret outside").unwrap();
        std::fs::write(data.join("a.txt"), "alpha").unwrap();
        std::fs::write(data.join("sub/b.md"), "beta").unwrap();
        std::fs::write(data.join(".hidden.txt"), "hidden").unwrap();
        std::fs::write(data.join("big.txt"), vec![b'x'; 1001]).unwrap();
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, data.join(name)).unwrap()
        };
        link(Path::new("/proc/self/environ"), "environ.txt");
        link(&work.path().join("outside.txt"), "escape.txt");
        link(Path::new("../outside.txt"), "relative.txt");
        link(&data.join("a.txt"), "inside.txt");
        link(&data.join(".hidden.txt"), "peek.txt");
        link(&data.join("sub"), "folder.md");
        link(&data.join("missing.md"), "dangling.md");
        // The type is the target's: a link cannot make an unsupported file a document.
        std::fs::write(data.join("creds.env"), "TOKEN=1").unwrap();
        link(&data.join("creds.env"), "creds.txt");
        link(&data.join("a.txt"), "typed.bin");
        let status = std::process::Command::new("mkfifo")
            .arg(data.join("pipe.txt"))
            .status()
            .unwrap();
        assert!(status.success());

        let (files, skipped) = run(&data, LIMITS);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["a.txt", "inside.txt", "sub/b.md", "typed.bin"],
            "{skipped:?}"
        );
        assert_eq!(files[1].1, b"alpha");
        assert!(reason(&skipped, "environ.txt").contains("outside the data folder"));
        assert!(reason(&skipped, "escape.txt").contains("outside the data folder"));
        assert!(reason(&skipped, "relative.txt").contains("outside the data folder"));
        assert!(reason(&skipped, "peek.txt").contains("hidden"));
        assert!(reason(&skipped, "folder.md").contains("folder"));
        assert!(reason(&skipped, "dangling.md").contains("broken"));
        assert!(reason(&skipped, "creds.txt").contains("unsupported file type `.env`"));
        assert!(reason(&skipped, "creds.env").contains("unsupported"));
        assert!(reason(&skipped, "pipe.txt").contains("not a regular file"));
        assert!(reason(&skipped, "big.txt").contains("max_file_bytes"));
        assert!(!skipped.iter().any(|s| s.path.contains("hidden")));
    }

    #[test]
    fn the_total_is_capped() {
        let work = tempfile::tempdir().unwrap();
        for name in ["a.txt", "b.txt", "c.txt"] {
            std::fs::write(work.path().join(name), vec![b'x'; 600]).unwrap();
        }
        std::fs::write(work.path().join("d.txt"), vec![b'x'; 200]).unwrap();
        let (files, skipped) = run(work.path(), LIMITS);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a.txt", "b.txt", "d.txt"]);
        assert!(reason(&skipped, "c.txt").contains("max_total_bytes"));
    }

    #[test]
    fn a_proc_file_reporting_size_0_is_refused() {
        let mut file = std::fs::File::open("/proc/self/environ").unwrap();
        let len = file.metadata().unwrap().len();
        assert_eq!(len, 0);
        let err = document::read_bounded(&mut file, len, 1 << 20).unwrap_err();
        assert!(err.contains("pseudo-file"), "{err}");
    }
}
