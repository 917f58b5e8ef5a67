//! The GPU backend for a test, or a visible skip where there is no adapter (a failure under
//! `TRACKCORR_REQUIRE_GPU=1`).

use trackcorr::gpu::correlate::GpuBackend;
use trackcorr::gpu::{GpuOptions, gpu_required};

pub fn backend(opts: &GpuOptions) -> Option<GpuBackend> {
    match GpuBackend::new(opts) {
        Ok(b) => Some(b),
        Err(e) if !gpu_required() => {
            eprintln!(
                "SKIPPED: GPU test needs an adapter ({e}); set TRACKCORR_REQUIRE_GPU=1 to fail instead"
            );
            None
        }
        Err(e) => panic!("TRACKCORR_REQUIRE_GPU=1 but no usable GPU: {e}"),
    }
}
