//! Sets of a segment's documents, one bit each: filters, facet values and query matches
//! combine with word-wide AND/OR, and counts are population counts.

use tantivy::DocId;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    /// No document of a segment of `len` documents.
    pub fn empty(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    /// Every document.
    pub fn full(len: usize) -> Self {
        let mut bits = Self {
            words: vec![u64::MAX; len.div_ceil(64)],
            len,
        };
        if let Some(last) = bits.words.last_mut()
            && !len.is_multiple_of(64)
        {
            *last = (1u64 << (len % 64)) - 1;
        }
        bits
    }

    /// The documents `d` for which `f(d)` holds.
    pub fn from_fn(len: usize, mut f: impl FnMut(usize) -> bool) -> Self {
        let mut bits = Self::empty(len);
        for (w, word) in bits.words.iter_mut().enumerate() {
            let base = w * 64;
            let mut value = 0u64;
            for i in 0..64.min(len - base) {
                value |= u64::from(f(base + i)) << i;
            }
            *word = value;
        }
        bits
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn insert(&mut self, doc: usize) {
        if let Some(word) = self.words.get_mut(doc / 64) {
            *word |= 1 << (doc % 64);
        }
    }

    pub fn remove(&mut self, doc: usize) {
        if let Some(word) = self.words.get_mut(doc / 64) {
            *word &= !(1 << (doc % 64));
        }
    }

    pub fn contains(&self, doc: usize) -> bool {
        self.words
            .get(doc / 64)
            .is_some_and(|word| word & (1 << (doc % 64)) != 0)
    }

    pub fn and(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    pub fn or(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// `self &= !other`.
    pub fn and_not(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// `self |= a & b`.
    pub fn or_and(&mut self, a: &Bits, b: &Bits) {
        for ((x, y), z) in self.words.iter_mut().zip(&a.words).zip(&b.words) {
            *x |= y & z;
        }
    }

    pub fn count(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Size of `self ∩ other`.
    pub fn and_count(&self, other: &Bits) -> u64 {
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| u64::from((a & b).count_ones()))
            .sum()
    }

    /// The documents in the set, ascending.
    pub fn ones(&self) -> impl Iterator<Item = DocId> + '_ {
        self.words.iter().enumerate().flat_map(|(w, word)| {
            let mut rest = *word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros();
                    rest &= rest - 1;
                    DocId::try_from(w * 64).unwrap_or(DocId::MAX) + bit
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations_and_counts() {
        let evens = Bits::from_fn(130, |d| d % 2 == 0);
        let mut small = Bits::from_fn(130, |d| d < 10);
        assert_eq!(evens.count(), 65);
        assert_eq!(evens.and_count(&small), 5);
        assert_eq!(Bits::full(130).count(), 130);
        assert_eq!(Bits::full(128).count(), 128);
        small.and(&evens);
        assert_eq!(small.ones().collect::<Vec<_>>(), vec![0, 2, 4, 6, 8]);
        let mut union = Bits::empty(130);
        union.or_and(&evens, &Bits::from_fn(130, |d| d > 125));
        union.insert(129);
        union.remove(128);
        assert_eq!(union.ones().collect::<Vec<_>>(), vec![126, 129]);
        assert!(union.contains(129) && !union.contains(128) && !union.contains(500));
    }
}
