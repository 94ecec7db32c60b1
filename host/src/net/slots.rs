//! Counted places per key (a client): at most `max` held at once per key; a place is
//! given back when its [`Slot`] is dropped. Keys with no place held are forgotten, so
//! memory follows the clients currently connected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Counts = Arc<Mutex<HashMap<Arc<str>, usize>>>;

/// Places per key.
#[derive(Clone)]
pub struct KeyedSlots {
    max: usize,
    held: Counts,
}

/// One place held for a key; given back on drop.
pub struct Slot {
    held: Counts,
    key: Arc<str>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

impl KeyedSlots {
    /// At most `max` (at least 1) places per key.
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            held: Arc::default(),
        }
    }

    /// The most places one key may hold.
    pub fn max(&self) -> usize {
        self.max
    }

    /// A place for `key`, or `None` when it holds `max` already.
    pub fn try_acquire(&self, key: Arc<str>) -> Option<Slot> {
        let mut map = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key.clone()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            held: self.held.clone(),
            key,
        })
    }

    /// Keys holding at least one place.
    #[cfg(test)]
    pub fn keys_held(&self) -> usize {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_per_key_given_back_and_forgotten() {
        let slots = KeyedSlots::new(2);
        let a: Arc<str> = Arc::from("a");
        let first = slots.try_acquire(a.clone()).unwrap();
        let second = slots.try_acquire(a.clone()).unwrap();
        assert!(slots.try_acquire(a.clone()).is_none());
        let other = slots.try_acquire(Arc::from("b")).unwrap();
        drop(first);
        assert!(slots.try_acquire(a.clone()).is_some());
        drop(second);
        drop(other);
        assert_eq!(slots.keys_held(), 0);
    }
}
