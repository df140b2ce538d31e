//! KV config (namespaced key/values such as ORDER_TOPIC_CONFIG), persisted to
//! `kvConfigPath` as `{"configTable":{"<namespace>":{"k":"v"}}}` like Java.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use rmq_remoting::protocol::body::{self, KvConfigSerializeWrapper, KvTable};

use crate::error::NamesrvError;

/// `NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG`.
pub const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

pub struct KvStore {
    path: PathBuf,
    table: IndexMap<String, IndexMap<String, String>>,
}

impl KvStore {
    /// Loads `path` if it exists; a missing file is an empty store, a corrupt one an error
    /// naming the file (Java would log and start empty, silently dropping the config).
    pub fn load(path: &Path) -> Result<KvStore, NamesrvError> {
        let table = match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => IndexMap::new(),
            Ok(bytes) => {
                let w: KvConfigSerializeWrapper = body::decode("kvConfig.json", &bytes)
                    .map_err(|e| NamesrvError::KvFile { path: path.to_path_buf(), reason: e.to_string() })?;
                w.config_table
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => IndexMap::new(),
            Err(e) => return Err(NamesrvError::KvFile { path: path.to_path_buf(), reason: e.to_string() }),
        };
        Ok(KvStore { path: path.to_path_buf(), table })
    }

    pub fn put(&mut self, namespace: &str, key: &str, value: &str) -> Result<(), NamesrvError> {
        self.table.entry(namespace.to_string()).or_default().insert(key.to_string(), value.to_string());
        self.persist()
    }

    pub fn delete(&mut self, namespace: &str, key: &str) -> Result<(), NamesrvError> {
        if let Some(t) = self.table.get_mut(namespace) {
            t.shift_remove(key);
        }
        self.persist()
    }

    pub fn get(&self, namespace: &str, key: &str) -> Option<&str> {
        self.table.get(namespace).and_then(|t| t.get(key)).map(String::as_str)
    }

    /// `KVTable` JSON of one namespace, or `None` if the namespace was never written.
    pub fn namespace_body(&self, namespace: &str) -> Option<Vec<u8>> {
        self.table.get(namespace).map(|t| body::encode(&KvTable { table: t.clone() }))
    }

    /// Java's `MixAll.string2File`: write a temp file, keep the previous content as `.bak`,
    /// then move the temp file into place, so a crash never leaves a half-written file.
    fn persist(&self) -> Result<(), NamesrvError> {
        let json = body::encode(&KvConfigSerializeWrapper { config_table: self.table.clone() });
        write_file_safely(&self.path, &json)
            .map_err(|e| NamesrvError::KvFile { path: self.path.clone(), reason: e.to_string() })
    }
}

pub fn write_file_safely(path: &Path, content: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let tmp = path.with_extension(match path.extension() {
        Some(e) => format!("{}.tmp", e.to_string_lossy()),
        None => "tmp".into(),
    });
    std::fs::write(&tmp, content)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    if path.exists() {
        let bak = PathBuf::from(format!("{}.bak", path.display()));
        std::fs::copy(path, bak)?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persists_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("namesrv").join("kvConfig.json");
        let mut kv = KvStore::load(&path).unwrap();
        kv.put(NAMESPACE_ORDER_TOPIC_CONFIG, "T", "broker-a:4").unwrap();
        kv.put("ns", "k", "v").unwrap();
        kv.delete("ns", "k").unwrap();
        let again = KvStore::load(&path).unwrap();
        assert_eq!(again.get(NAMESPACE_ORDER_TOPIC_CONFIG, "T"), Some("broker-a:4"));
        assert_eq!(again.get("ns", "k"), None);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, r#"{"configTable":{"ORDER_TOPIC_CONFIG":{"T":"broker-a:4"},"ns":{}}}"#);
        assert!(dir.path().join("namesrv").join("kvConfig.json.bak").exists());
    }

    #[test]
    fn corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kvConfig.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = KvStore::load(&path).err().unwrap().to_string();
        assert!(err.contains("kvConfig.json"), "{err}");
    }
}
