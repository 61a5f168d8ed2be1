//! Sets of resource ids kept in little memory: each id is remembered as the first 128 bits of
//! its sha256 ([`IdKey`], 16 bytes, no allocation) instead of as a `String` (60 bytes or more).
//! Two different ids share a key with a probability near 2^-128 per pair (for a million ids,
//! about 10^-27 per export), far below the odds of a memory error. Used by the spool (to tell
//! a repeated resource) and for "which of these referenced resources are held" (the
//! memory budget: a million-resource export must stay under 128 MiB).

use std::collections::HashSet;

/// What a set remembers of an id.
pub type IdKey = u128;

/// The key of `id`.
pub fn key(id: &str) -> IdKey {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(id.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    IdKey::from_le_bytes(key)
}

/// A set of ids, by key.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IdSet(HashSet<IdKey>);

impl IdSet {
    /// Adds `id`; `false` when it was there already.
    pub fn insert(&mut self, id: &str) -> bool {
        self.0.insert(key(id))
    }

    pub fn contains(&self, id: &str) -> bool {
        self.0.contains(&key(id))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> Extend<&'a str> for IdSet {
    fn extend<I: IntoIterator<Item = &'a str>>(&mut self, ids: I) {
        self.0.extend(ids.into_iter().map(key));
    }
}

impl<'a> FromIterator<&'a str> for IdSet {
    fn from_iter<I: IntoIterator<Item = &'a str>>(ids: I) -> Self {
        let mut set = IdSet::default();
        set.extend(ids);
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_ids_not_their_case_twins() {
        let mut set: IdSet = ["a", "b-1"].into_iter().collect();
        assert!(set.contains("a") && set.contains("b-1"));
        assert!(!set.contains("A"), "ids are case-sensitive");
        assert!(!set.insert("a"));
        assert!(set.insert("A"));
        assert_eq!(set.len(), 3);
    }
}
