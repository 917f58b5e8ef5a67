//! The GPU backend for a test, or a visible skip where there is no adapter (a failure under
//! `TRACKCORR_REQUIRE_GPU=1`): the library's `test_context`, with the kernels compiled.

use trackcorr::gpu::correlate::GpuBackend;
use trackcorr::gpu::{GpuOptions, test_context};

pub fn backend(opts: &GpuOptions) -> Option<GpuBackend> {
    let ctx = test_context(opts)?;
    Some(GpuBackend::with_context(ctx).expect("the kernels compile on an open device"))
}
