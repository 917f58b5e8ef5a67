//! Parallel work that tells its progress.

use crate::error::Result;
use rayon::prelude::*;

/// `f` over `items` on all threads, a few items per thread at a time, with
/// `progress(done, total)` told between them on the calling thread: told from rayon's
/// workers, an indicatif bar never drew.
pub fn par_map_with_progress<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<R>> {
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(4 * rayon::current_num_threads()) {
        out.extend(chunk.par_iter().map(&f).collect::<Result<Vec<_>>>()?);
        progress(out.len(), items.len());
    }
    Ok(out)
}
