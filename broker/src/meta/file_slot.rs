//! The file side of a metadata manager (Java's `ConfigManager`): where its
//! JSON file lives, in which flavor and layout it is written back, whether
//! the table changed since the last write, and one writer at a time.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use rmq_store::config_files::{self, ConfigFile, JavaFlavor, Layout};

use super::MetaError;

pub(crate) struct ConfigFileSlot {
    pub(crate) path: PathBuf,
    /// The Java version whose rules and JSON the manager follows.
    pub(crate) flavor: JavaFlavor,
    /// The layout the file was found in (kept when writing it back).
    pub(crate) layout: Layout,
    /// Serializes writers of the file (Java's `ConfigManager.persist` is synchronized).
    persist_lock: Mutex<()>,
    dirty: AtomicBool,
}

impl ConfigFileSlot {
    pub(crate) fn new(path: PathBuf, flavor: JavaFlavor, layout: Layout) -> ConfigFileSlot {
        ConfigFileSlot { path, flavor, layout, persist_lock: Mutex::new(()), dirty: AtomicBool::new(false) }
    }

    /// The table changed: the next periodic persist writes it.
    pub(crate) fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }

    /// Writes the file (blocking; `.bak` kept like Java). A change made while
    /// the snapshot is taken stays dirty; a failed write leaves it dirty.
    pub(crate) fn persist<F: ConfigFile>(&self, snapshot: impl FnOnce() -> F) -> Result<(), MetaError> {
        let _guard = self.persist_lock.lock();
        self.dirty.store(false, Ordering::Release);
        let file = snapshot();
        config_files::write(&self.path, &file, self.flavor, self.layout).inspect_err(|_| self.mark_dirty())?;
        Ok(())
    }
}
