//! Hot reload: watch the plugins folder (not the files, so that atomic
//! rename-into-place is seen), debounce bursts of events, and reload the plugins
//! whose files were touched, off the request path.

use super::PluginHost;
use notify::{RecursiveMode, Watcher};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Quiet time after the last event before reloading.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// Keeps the watch alive; dropping it stops watching.
pub struct PluginWatcher {
    _watcher: notify::RecommendedWatcher,
}

/// Starts watching every folder that holds a configured plugin.
pub fn start(host: Arc<PluginHost>) -> notify::Result<PluginWatcher> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Reading a file (as the reload itself does) raises access events: ignore them,
        // or every reload would trigger the next.
        if let Some(event) = event.ok().filter(|e| !e.kind.is_access()) {
            for path in event.paths {
                let _ = tx.send(path);
            }
        }
    })?;
    let dirs: HashSet<PathBuf> = host
        .slots()
        .iter()
        .flat_map(|s| s.paths())
        .filter_map(|p| p.parent().map(|p| p.to_path_buf()))
        .collect();
    for dir in &dirs {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut touched: HashSet<PathBuf> = HashSet::from([first]);
            // Collect the rest of the burst.
            while let Ok(Some(p)) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                touched.insert(p);
            }
            // A signature file (`x.wasm.sig`) stands for its plugin file.
            let names: HashSet<_> = touched
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| {
                    let n = n.to_string_lossy();
                    n.strip_suffix(".sig").unwrap_or(&n).to_string()
                })
                .collect();
            for slot in host.slots() {
                let touched = slot.paths().iter().any(|p| {
                    p.file_name()
                        .is_some_and(|n| names.contains(&*n.to_string_lossy()))
                });
                if touched {
                    host.reload(slot).await;
                }
            }
        }
    });
    Ok(PluginWatcher { _watcher: watcher })
}
