//! How the map forms cut their input into jobs: Python's default chunk size and the cut.

/// Python's default chunk size for `map` over `len` items on `workers` workers:
/// `ceil(len / (4 * workers))`, at least 1. (`imap` defaults to 1.)
pub(crate) fn default_map_chunksize(len: usize, workers: usize) -> usize {
    len.div_ceil(workers.max(1).saturating_mul(4)).max(1)
}

/// Cuts `items` into runs of `chunksize` (the last may be shorter), each with the index of
/// its first item.
pub(crate) fn cut<T>(items: Vec<T>, chunksize: usize) -> Vec<(usize, Vec<T>)> {
    let chunksize = chunksize.max(1);
    let mut chunks = Vec::with_capacity(items.len().div_ceil(chunksize));
    let mut items = items.into_iter();
    let mut first = 0;
    loop {
        let chunk: Vec<T> = items.by_ref().take(chunksize).collect();
        if chunk.is_empty() {
            return chunks;
        }
        let len = chunk.len();
        chunks.push((first, chunk));
        first += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pythons_rule() {
        // divmod(len, 4 * workers), plus one for a remainder.
        assert_eq!(default_map_chunksize(0, 2), 1);
        assert_eq!(default_map_chunksize(1, 2), 1);
        assert_eq!(default_map_chunksize(8, 2), 1);
        assert_eq!(default_map_chunksize(9, 2), 2);
        assert_eq!(default_map_chunksize(1000, 2), 125);
        assert_eq!(default_map_chunksize(100_000, 4), 6250);
    }

    #[test]
    fn cut_keeps_order_and_indices() {
        let chunks = cut((0..7).collect(), 3);
        assert_eq!(
            chunks,
            vec![(0, vec![0, 1, 2]), (3, vec![3, 4, 5]), (6, vec![6])]
        );
        assert!(cut(Vec::<u8>::new(), 3).is_empty());
    }
}
