//! The index currently serving, swappable atomically: a rebuild installs a new index
//! while requests that already hold the old one finish with it.

use super::index::Index;
use arc_swap::ArcSwapOption;
use std::sync::Arc;

/// The serving index (none until the first load or build finishes).
#[derive(Default)]
pub struct LiveIndex(ArcSwapOption<Index>);

impl LiveIndex {
    /// The index to use for one request.
    pub fn get(&self) -> Option<Arc<Index>> {
        self.0.load_full()
    }

    /// Installs a new index.
    pub fn install(&self, index: Index) {
        self.0.store(Some(Arc::new(index)));
    }

    /// Installs `index` only if none is serving yet (so an index loaded from disk at
    /// start-up never replaces one a rebuild installed meanwhile). Whether it did.
    pub fn install_if_empty(&self, index: Index) -> bool {
        let previous = self
            .0
            .compare_and_swap(&None::<Arc<Index>>, Some(Arc::new(index)));
        previous.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rag::index::{Manifest, FORMAT_VERSION};

    fn index(version: &str) -> Index {
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            model: "m".into(),
            dimensions: 4,
            chunk_size: 100,
            chunk_overlap: 10,
            documents: 0,
            chunks: 0,
            built_at_unix: 0,
            version: version.into(),
        };
        Index::with_graph(manifest, Vec::new(), None)
    }

    #[test]
    fn the_first_install_only_fills_an_empty_slot() {
        let live = LiveIndex::default();
        assert!(live.install_if_empty(index("loaded")));
        // A rebuild replaces it; a late start-up load does not replace the rebuild.
        live.install(index("rebuilt"));
        assert!(!live.install_if_empty(index("stale")));
        assert_eq!(live.get().unwrap().manifest.version, "rebuilt");
    }
}
