//! The GPU backend: one long-lived [`GpuContext`] (device, queue, pipelines) and, per
//! pipeline stage, host code that uploads a batch, dispatches its WGSL kernel and reads the
//! result back. Each kernel (`shaders/<stage>.wgsl`) mirrors a CPU twin that does the same
//! arithmetic in f64; parity tests hold the two together.
//!
//! Every GPU failure is a [`Result`]: shader, pipeline and large buffer creation run inside
//! error scopes, errors outside scopes are collected by `on_uncaptured_error` (whose
//! default handler would panic), and a lost device is noticed at the next check.

pub mod assign;
pub mod associate;
pub mod correlate;
pub mod history;
pub mod propagate;
pub mod stitch;
pub mod timing;
pub mod track;

use crate::error::{Error, Result};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use timing::{Kernel, KernelTimes, Recorder};
use wgpu::util::DeviceExt;

/// WGSL shared by the kernels (small linear algebra, indexing helpers); prepended to each.
pub const COMMON_WGSL: &str = include_str!("../../shaders/common.wgsl");
/// The motion models, prepended to the kernels that predict tracks.
pub const BALLISTIC_WGSL: &str = include_str!("../../shaders/ballistic.wgsl");

/// Workgroup size of the one-thread-per-item kernels (keep in sync with the WGSL).
pub const WORKGROUP: u32 = 64;

/// What ran: reported in `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdapterSummary {
    pub name: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub backend: String,
    pub timestamp_queries: bool,
}

/// Options of the context.
#[derive(Clone, Copy, Debug, Default)]
pub struct GpuOptions {
    /// Cap on the size of one storage binding (bytes), below the adapter's limit: forces
    /// chunking in tests.
    pub max_binding_bytes: Option<u64>,
}

/// Device, queue and what we know of the adapter.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: AdapterSummary,
    pub limits: wgpu::Limits,
    /// Largest storage binding the batching may use.
    pub max_binding_bytes: u64,
    errors: Arc<Mutex<Vec<String>>>,
}

impl GpuContext {
    /// Finds an adapter (honouring `WGPU_BACKEND`, `WGPU_ADAPTER_NAME` and
    /// `WGPU_POWER_PREF`) and opens a device with the adapter's own limits.
    pub fn new(opts: &GpuOptions) -> Result<GpuContext> {
        pollster::block_on(Self::new_async(opts))
    }

    async fn new_async(opts: &GpuOptions) -> Result<GpuContext> {
        // Honours WGPU_BACKEND and the other wgpu environment variables.
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = match std::env::var("WGPU_ADAPTER_NAME") {
            Ok(wanted) => {
                let wanted = wanted.to_lowercase();
                let all = instance.enumerate_adapters(wgpu::Backends::all()).await;
                let names: Vec<String> = all.iter().map(|a| a.get_info().name).collect();
                all.into_iter()
                    .find(|a| a.get_info().name.to_lowercase().contains(&wanted))
                    .ok_or_else(|| {
                        Error::NoAdapter(format!(
                            "WGPU_ADAPTER_NAME={wanted} matches none of: {}",
                            if names.is_empty() {
                                "(no adapters)".to_string()
                            } else {
                                names.join(", ")
                            }
                        ))
                    })?
            }
            Err(_) => instance
                .request_adapter(&wgpu::RequestAdapterOptions {
                    power_preference: wgpu::PowerPreference::from_env()
                        .unwrap_or(wgpu::PowerPreference::HighPerformance),
                    ..Default::default()
                })
                .await
                .map_err(|e| Error::NoAdapter(e.to_string()))?,
        };
        let info = adapter.get_info();
        let timestamps = adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY);
        let required_features = if timestamps {
            wgpu::Features::TIMESTAMP_QUERY
        } else {
            wgpu::Features::empty()
        };
        // The defaults (128 MiB bindings, 65 535 workgroups per dimension) are lower than
        // most adapters offer: ask for all the adapter has.
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("trackcorr"),
                required_features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("cannot open {}: {e}", info.name)))?;
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let lost = errors.clone();
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut v) = lost.lock() {
                v.push(format!("device lost ({reason:?}): {message}"));
            }
        });
        let adapter_limit = limits.max_storage_buffer_binding_size as u64;
        let max_binding_bytes = opts
            .max_binding_bytes
            .map_or(adapter_limit, |m| m.min(adapter_limit))
            .min(limits.max_buffer_size);
        Ok(GpuContext {
            device,
            queue,
            adapter: AdapterSummary {
                name: info.name.clone(),
                device_type: format!("{:?}", info.device_type),
                driver: info.driver.clone(),
                driver_info: info.driver_info.clone(),
                backend: format!("{:?}", info.backend),
                timestamp_queries: timestamps,
            },
            limits,
            max_binding_bytes,
            errors,
        })
    }

    /// True for a CPU implementation of the API (llvmpipe, WARP).
    pub fn is_cpu_device(&self) -> bool {
        self.adapter.device_type == format!("{:?}", wgpu::DeviceType::Cpu)
    }

    /// Fails if an error was reported outside an error scope or the device was lost.
    pub fn check(&self) -> Result<()> {
        let mut errors = self
            .errors
            .lock()
            .map_err(|_| Error::Gpu("error log poisoned".into()))?;
        if errors.is_empty() {
            Ok(())
        } else {
            let all = errors.join("; ");
            errors.clear();
            Err(Error::Gpu(all))
        }
    }

    /// Runs `f` inside validation and out-of-memory error scopes.
    fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        let v = pollster::block_on(validation.pop());
        let o = pollster::block_on(oom.pop());
        match v.or(o) {
            Some(e) => Err(Error::Gpu(format!("{what}: {e}"))),
            None => Ok(value),
        }
    }

    /// Compiles a kernel: the common WGSL followed by `source`, entry point `entry`.
    pub fn pipeline(
        &self,
        label: &str,
        source: &str,
        entry: &str,
    ) -> Result<wgpu::ComputePipeline> {
        self.pipeline_with_constants(label, source, entry, &[])
    }

    /// [`Self::pipeline`] with values for the kernel's `override` constants.
    pub fn pipeline_with_constants(
        &self,
        label: &str,
        source: &str,
        entry: &str,
        constants: &[(&str, f64)],
    ) -> Result<wgpu::ComputePipeline> {
        let code = format!("{COMMON_WGSL}\n{source}");
        self.scoped(&format!("compiling {label}"), || {
            let module = self
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(label),
                    source: wgpu::ShaderSource::Wgsl(code.into()),
                });
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(label),
                    layout: None,
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants,
                        ..Default::default()
                    },
                    cache: None,
                })
        })
    }

    /// A storage buffer holding `contents` (at least 4 bytes, as bindings may not be empty).
    pub fn storage(&self, label: &str, contents: &[u8]) -> Result<wgpu::Buffer> {
        let padded;
        let bytes = if contents.len() < 4 {
            padded = [0u8; 4];
            &padded[..]
        } else {
            contents
        };
        self.scoped(&format!("allocating {label}"), || {
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: bytes,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                })
        })
    }

    /// An uninitialised storage buffer of `size` bytes.
    pub fn storage_empty(&self, label: &str, size: u64) -> Result<wgpu::Buffer> {
        self.scoped(&format!("allocating {label}"), || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: size.max(4).next_multiple_of(4),
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })
    }

    /// A uniform buffer.
    pub fn uniform(&self, label: &str, contents: &[u8]) -> Result<wgpu::Buffer> {
        self.scoped(&format!("allocating {label}"), || {
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents,
                    usage: wgpu::BufferUsages::UNIFORM,
                })
        })
    }

    /// A bind group of `buffers` at bindings 0, 1, … of group 0 of `pipeline`.
    pub fn bind(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// Workgroup counts for `groups` workgroups: 2-D when one dimension's limit would be
    /// exceeded (the kernel folds `(x, y)` back into one index).
    pub fn grid(&self, groups: u32) -> (u32, u32) {
        let groups = groups.max(1);
        let max = self.limits.max_compute_workgroups_per_dimension.max(1);
        if groups <= max {
            (groups, 1)
        } else {
            (max, groups.div_ceil(max))
        }
    }

    /// Copies `buffers` (each its whole size) to staging buffers after `rec`'s work,
    /// submits once, waits, and returns their bytes.
    pub fn submit_and_read(
        &self,
        rec: Recorder,
        buffers: &[&wgpu::Buffer],
    ) -> Result<Vec<Vec<u8>>> {
        Ok(self.submit_and_read_timed(rec, buffers)?.0)
    }

    /// [`Self::submit_and_read`], also returning the GPU time of each kernel when the
    /// adapter has timestamp queries (read back with the buffers, no extra round trip).
    pub fn submit_and_read_timed(
        &self,
        rec: Recorder,
        buffers: &[&wgpu::Buffer],
    ) -> Result<(Vec<Vec<u8>>, Option<KernelTimes>)> {
        let (mut encoder, timestamps) = rec.finish_timing(self);
        let mut sources: Vec<&wgpu::Buffer> = buffers.to_vec();
        if let Some((resolved, _)) = &timestamps {
            sources.push(resolved);
        }
        let staging: Vec<wgpu::Buffer> = sources
            .iter()
            .map(|b| {
                // MAP_READ buffers cannot be storage: copy into a separate staging buffer.
                let s = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("staging"),
                    size: b.size(),
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                encoder.copy_buffer_to_buffer(b, 0, &s, 0, b.size());
                s
            })
            .collect();
        self.queue.submit(Some(encoder.finish()));
        for s in &staging {
            s.slice(..).map_async(wgpu::MapMode::Read, |_| {});
        }
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
        self.check()?;
        let mut out = Vec::with_capacity(staging.len());
        for s in &staging {
            let view = s
                .slice(..)
                .get_mapped_range()
                .map_err(|e| Error::Gpu(format!("reading back: {e}")))?;
            out.push(view.to_vec());
        }
        let times = match timestamps {
            Some((_, passes)) => {
                let bytes = out.pop().unwrap_or_default();
                Some(timing::kernel_times(
                    &bytes,
                    &passes,
                    self.queue.get_timestamp_period(),
                ))
            }
            None => None,
        };
        Ok((out, times))
    }

    /// The recorder of a new submission (its passes timed when the adapter allows).
    pub fn encoder(&self) -> Recorder {
        Recorder::new(self)
    }
}

/// Dispatches `pipeline` (running `kernel`) with one bind group over `items` threads of
/// [`WORKGROUP`].
pub fn dispatch(
    ctx: &GpuContext,
    rec: &mut Recorder,
    kernel: Kernel,
    pipeline: &wgpu::ComputePipeline,
    bind: &wgpu::BindGroup,
    items: u32,
) {
    dispatch_workgroups(ctx, rec, kernel, pipeline, bind, items.div_ceil(WORKGROUP));
}

/// Dispatches `pipeline` with one bind group over `groups` workgroups (one per problem, for
/// the kernels that give a problem a workgroup), in a pass of its own.
pub fn dispatch_workgroups(
    ctx: &GpuContext,
    rec: &mut Recorder,
    kernel: Kernel,
    pipeline: &wgpu::ComputePipeline,
    bind: &wgpu::BindGroup,
    groups: u32,
) {
    let (x, y) = ctx.grid(groups);
    let mut pass = rec.pass(ctx, kernel);
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, bind, &[]);
    pass.dispatch_workgroups(x, y, 1);
}

/// The result of a kernel compiled on a scoped thread; a panic there becomes an error.
pub(crate) fn joined<T>(
    handle: std::thread::ScopedJoinHandle<'_, Result<T>>,
    what: &str,
) -> Result<T> {
    handle
        .join()
        .unwrap_or_else(|_| Err(Error::Gpu(format!("compiling {what}: the thread panicked"))))
}

/// True when tests must have a GPU adapter (`TRACKCORR_REQUIRE_GPU=1`, as in CI).
pub fn gpu_required() -> bool {
    std::env::var("TRACKCORR_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// A context for tests: `None`, with a visible message, when there is no adapter and the
/// GPU is not required; a panic when it is required.
pub fn test_context(opts: &GpuOptions) -> Option<GpuContext> {
    match GpuContext::new(opts) {
        Ok(c) => Some(c),
        Err(e) if !gpu_required() => {
            eprintln!(
                "SKIPPED: GPU test needs an adapter ({e}); set TRACKCORR_REQUIRE_GPU=1 to fail instead"
            );
            None
        }
        Err(e) => panic!("TRACKCORR_REQUIRE_GPU=1 but no usable GPU: {e}"),
    }
}

/// Reinterprets bytes read back from the GPU as records.
pub fn cast_vec<T: bytemuck::Pod>(bytes: &[u8]) -> Vec<T> {
    bytemuck::pod_collect_to_vec(bytes)
}

/// A track estimate as the kernels see it: f32, relative to the batch reference point.
/// Keep in sync with `struct Track` in shaders/common.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuTrack {
    pub state: [f32; 6],
    pub cov: [f32; 36],
}

impl GpuTrack {
    /// From an absolute f64 estimate: the subtraction is done in f64, so f32 keeps
    /// millimetres within a few hundred kilometres of the origin.
    pub fn from_f64(
        state: &crate::linalg::Vec6,
        cov: &crate::linalg::Mat6,
        origin: &[f64; 3],
    ) -> GpuTrack {
        let mut t: GpuTrack = bytemuck::Zeroable::zeroed();
        for i in 0..6 {
            let o = if i < 3 { origin[i] } else { 0.0 };
            t.state[i] = (state[i] - o) as f32;
            for j in 0..6 {
                t.cov[i * 6 + j] = cov[i][j] as f32;
            }
        }
        t
    }

    /// Back to an absolute f64 estimate.
    pub fn to_f64(&self, origin: &[f64; 3]) -> (crate::linalg::Vec6, crate::linalg::Mat6) {
        let state =
            std::array::from_fn(|i| f64::from(self.state[i]) + if i < 3 { origin[i] } else { 0.0 });
        let cov = std::array::from_fn(|i| std::array::from_fn(|j| f64::from(self.cov[i * 6 + j])));
        (state, cov)
    }
}
