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
