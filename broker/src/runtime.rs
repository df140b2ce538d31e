//! The broker's tokio runtime: how many worker threads, and the park hooks
//! that keep hand-offs with the append thread cheap
//! (`rmq_store::append::HANDOFF`).
//!
//! The commitlog append thread is busy whenever sends are: it encodes, writes
//! and dispatches every message. With one worker per core, the workers and
//! that thread contend for the cores under load and every round trip between
//! them costs context switches. So the default leaves it a core: one worker
//! fewer than the cores, at least one. `TOKIO_WORKER_THREADS` (tokio's own
//! variable) overrides it.
//!
//! Measured on 2 cores with `rmq-bench produce` (16 connections, sync 1 KiB
//! sends, alternating runs, client on the same cores): one worker instead of
//! two took 4-10% less broker CPU per message and gave 0-15% more throughput,
//! depending on the run.
//!
//! In write-buffer mode (`transientStorePoolEnable`) the workers stage puts
//! themselves and the append thread only writes and dispatches in batches
//! (about a fifth of a core at 50k msg/s), so there is one worker per core:
//! at 64 connections two workers gave 51.8k msg/s against 41.6k for one
//! (medians of three alternating runs).

/// The environment variable that overrides the default.
pub const WORKER_THREADS_ENV: &str = "TOKIO_WORKER_THREADS";

/// Worker threads for `cores` available cores and the override's value, if
/// any; `write_buffer`: the append thread needs no core of its own. An
/// override that is not a positive number is ignored (tokio would panic on it).
pub fn worker_threads_for(cores: usize, env: Option<&str>, write_buffer: bool) -> usize {
    match env.and_then(|v| v.trim().parse::<usize>().ok()).filter(|n| *n > 0) {
        Some(n) => n,
        None if write_buffer => cores.max(1),
        None => cores.saturating_sub(1).max(1),
    }
}

/// Worker threads for this process.
pub fn worker_threads(write_buffer: bool) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    worker_threads_for(cores, std::env::var(WORKER_THREADS_ENV).ok().as_deref(), write_buffer)
}

/// The multi-threaded runtime `mqbroker` runs on: `worker_threads()` workers
/// that report their parks to the append thread's hand-off. `write_buffer`:
/// the store runs in write-buffer mode (see the module doc).
pub fn build(write_buffer: bool) -> std::io::Result<tokio::runtime::Runtime> {
    use rmq_store::append::HANDOFF;
    let workers = worker_threads(write_buffer);
    HANDOFF.set_workers(workers);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .on_thread_park(|| HANDOFF.worker_parking())
        .on_thread_unpark(|| HANDOFF.worker_unparked())
        .enable_all()
        .build()
}

#[cfg(test)]
mod tests {
    use super::worker_threads_for;

    #[test]
    fn one_core_left_to_the_append_thread() {
        assert_eq!(worker_threads_for(1, None, false), 1);
        assert_eq!(worker_threads_for(2, None, false), 1);
        assert_eq!(worker_threads_for(8, None, false), 7);
    }

    #[test]
    fn write_buffer_mode_has_a_worker_per_core() {
        assert_eq!(worker_threads_for(2, None, true), 2);
        assert_eq!(worker_threads_for(1, None, true), 1);
        assert_eq!(worker_threads_for(2, Some("1"), true), 1);
    }

    #[test]
    fn the_environment_overrides_and_bad_values_are_ignored() {
        assert_eq!(worker_threads_for(2, Some("4"), false), 4);
        assert_eq!(worker_threads_for(8, Some(" 2 "), false), 2);
        assert_eq!(worker_threads_for(2, Some("0"), false), 1);
        assert_eq!(worker_threads_for(4, Some("lots"), false), 3);
    }
}
