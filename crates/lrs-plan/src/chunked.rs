//! A growable array kept in fixed-size chunks, for the planner's per-set tables.
//!
//! Growing never moves what is already stored, and a clone keeps room in its last chunk: a
//! copy of a planner with 100,000 sets takes one more set without copying megabytes (a `Vec`
//! would reallocate and copy all of it, because a clone has no spare capacity).

/// Elements per chunk.
const CHUNK: usize = 4096;

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Chunked<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn get(&self, at: usize) -> Option<&T> {
        self.chunks.get(at / CHUNK)?.get(at % CHUNK)
    }

    pub(crate) fn get_mut(&mut self, at: usize) -> Option<&mut T> {
        self.chunks.get_mut(at / CHUNK)?.get_mut(at % CHUNK)
    }

    pub(crate) fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(value),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// Every element, in index order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

impl<T: Clone> Chunked<T> {
    /// `len` copies of `value`.
    pub(crate) fn filled(value: T, len: usize) -> Self {
        let mut out = Chunked {
            chunks: Vec::with_capacity(len.div_ceil(CHUNK)),
            len: 0,
        };
        out.grow_to(len, value);
        out
    }

    /// Append copies of `value` until there are `len` elements.
    pub(crate) fn grow_to(&mut self, len: usize, value: T) {
        while self.len < len {
            let last = match self.chunks.last_mut() {
                Some(last) if last.len() < CHUNK => last,
                _ => {
                    self.chunks.push(Vec::with_capacity(CHUNK));
                    match self.chunks.last_mut() {
                        Some(last) => last,
                        None => return,
                    }
                }
            };
            let add = (CHUNK - last.len()).min(len - self.len);
            last.resize(last.len() + add, value.clone());
            self.len += add;
        }
    }
}

impl<T: Clone> Clone for Chunked<T> {
    fn clone(&self) -> Self {
        let chunks = self
            .chunks
            .iter()
            .map(|chunk| {
                let mut copy = Vec::with_capacity(CHUNK);
                copy.extend_from_slice(chunk);
                copy
            })
            .collect();
        Chunked {
            chunks,
            len: self.len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_across_chunks_and_grows_in_place() {
        let mut c: Chunked<usize> = Chunked::filled(7, CHUNK + 3);
        assert_eq!(c.len(), CHUNK + 3);
        assert_eq!(c.get(CHUNK + 2), Some(&7));
        assert_eq!(c.get(CHUNK + 3), None);
        if let Some(v) = c.get_mut(CHUNK) {
            *v = 1;
        }
        c.push(9);
        assert_eq!(c.get(CHUNK + 3), Some(&9));
        c.grow_to(3 * CHUNK + 1, 0);
        assert_eq!(c.len(), 3 * CHUNK + 1);
        assert_eq!(c.iter().count(), 3 * CHUNK + 1);
        assert_eq!(c.iter().filter(|&&v| v == 7).count(), CHUNK + 2);
        let copy = c.clone();
        assert_eq!(copy.get(CHUNK), Some(&1));
        assert!(copy.chunks.iter().all(|chunk| chunk.capacity() == CHUNK));
        assert_eq!(
            copy.iter().copied().collect::<Vec<_>>(),
            c.iter().copied().collect::<Vec<_>>()
        );
    }
}
