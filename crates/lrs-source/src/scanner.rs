//! Incremental folder scanning: one listing per poll, and only new or changed blobs need
//! their headers read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{BlobEntry, Source, SourceError};

/// What changed in a folder since the previous scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanDelta {
    /// The whole listing, sorted by name.
    pub listing: Vec<BlobEntry>,
    /// Blobs not seen before.
    pub added: Vec<BlobEntry>,
    /// Blobs whose size or entity tag differs from the previous scan (overwritten).
    pub changed: Vec<BlobEntry>,
    /// Names of blobs that are gone.
    pub removed: Vec<String>,
}

impl ScanDelta {
    /// Whether nothing was added, changed or removed.
    pub fn is_unchanged(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// Remembers name → (size, etag) of a folder between polls.
#[derive(Debug, Clone, Default)]
pub struct Scanner {
    known: BTreeMap<String, BlobEntry>,
}

impl Scanner {
    /// A scanner that has seen nothing: the first scan reports every blob as added.
    pub fn new() -> Self {
        Scanner::default()
    }

    /// Record `entry` as seen (restoring state after a restart, or after its headers were
    /// read by other means).
    pub fn remember(&mut self, entry: &BlobEntry) {
        self.known.insert(entry.name.clone(), entry.clone());
    }

    /// Forget `name`, so that the next scan reports it as added again (e.g. its header read
    /// failed for a transient reason and must be retried).
    pub fn forget(&mut self, name: &str) {
        self.known.remove(name);
    }

    /// The blobs seen by the last scan, by name.
    pub fn known(&self) -> impl Iterator<Item = &BlobEntry> {
        self.known.values()
    }

    /// List `source` once and report what changed since the previous scan. On error the
    /// scanner's state is unchanged.
    pub async fn scan(&mut self, source: &dyn Source) -> Result<ScanDelta, SourceError> {
        let listing = source.list().await?;
        Ok(self.apply(listing))
    }

    /// Compare a listing with what was seen before and remember it (the pure part of
    /// [`Scanner::scan`]).
    pub fn apply(&mut self, mut listing: Vec<BlobEntry>) -> ScanDelta {
        listing.sort_by(|a, b| a.name.cmp(&b.name));
        let mut added = Vec::new();
        let mut changed = Vec::new();
        let mut next = BTreeMap::new();
        for entry in &listing {
            match self.known.get(&entry.name) {
                None => added.push(entry.clone()),
                Some(old) if old.size != entry.size || old.etag != entry.etag => {
                    changed.push(entry.clone());
                }
                Some(_) => {}
            }
            next.insert(entry.name.clone(), entry.clone());
        }
        let removed = self
            .known
            .keys()
            .filter(|name| !next.contains_key(*name))
            .cloned()
            .collect();
        self.known = next;
        ScanDelta {
            listing,
            added,
            changed,
            removed,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn entry(name: &str, size: u64, etag: &str) -> BlobEntry {
        BlobEntry {
            name: name.into(),
            size,
            etag: Some(etag.into()),
            last_modified: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    fn names(entries: &[BlobEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn delta_semantics() {
        let mut scanner = Scanner::new();
        let first = scanner.apply(vec![entry("b", 2, "e1"), entry("a", 1, "e1")]);
        assert_eq!(names(&first.listing), ["a", "b"]);
        assert_eq!(names(&first.added), ["a", "b"]);
        assert!(first.changed.is_empty() && first.removed.is_empty());

        let same = scanner.apply(vec![entry("a", 1, "e1"), entry("b", 2, "e1")]);
        assert!(same.is_unchanged(), "{same:?}");

        // Size change, etag change, removal and addition at once.
        let delta = scanner.apply(vec![
            entry("a", 1, "e2"),
            entry("c", 3, "e1"),
            entry("d", 4, "e1"),
        ]);
        assert_eq!(names(&delta.added), ["c", "d"]);
        assert_eq!(names(&delta.changed), ["a"]);
        assert_eq!(delta.removed, vec!["b".to_string()]);
        let delta = scanner.apply(vec![
            entry("a", 9, "e2"),
            entry("c", 3, "e1"),
            entry("d", 4, "e1"),
        ]);
        assert_eq!(names(&delta.changed), ["a"]);
        assert!(delta.added.is_empty() && delta.removed.is_empty());

        // last_modified alone is not a change (same size and etag).
        let mut touched = entry("a", 9, "e2");
        touched.last_modified = Utc::now();
        let delta = scanner.apply(vec![touched, entry("c", 3, "e1"), entry("d", 4, "e1")]);
        assert!(delta.is_unchanged());
    }

    #[test]
    fn remember_and_forget() {
        let mut scanner = Scanner::new();
        scanner.remember(&entry("a", 1, "e1"));
        let delta = scanner.apply(vec![entry("a", 1, "e1"), entry("b", 1, "e1")]);
        assert_eq!(names(&delta.added), ["b"]);
        scanner.forget("b");
        let delta = scanner.apply(vec![entry("a", 1, "e1"), entry("b", 1, "e1")]);
        assert_eq!(names(&delta.added), ["b"]);
        assert_eq!(
            scanner.known().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }
}
