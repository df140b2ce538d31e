//! The `checkpoint` file: 3 (4.9.8) or 5 (5.x) big-endian longs at the start
//! of a 4096-byte page.

use std::path::Path;

use crate::error::{Result, StoreError};

pub const CHECKPOINT_FILE_SIZE: u64 = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Checkpoint {
    pub physic_msg_timestamp: i64,
    pub logics_msg_timestamp: i64,
    pub index_msg_timestamp: i64,
    /// 5.x only (None when the file is shorter than 32 bytes).
    pub master_flushed_offset: Option<i64>,
    /// 5.x only (None when the file is shorter than 40 bytes).
    pub confirm_phy_offset: Option<i64>,
}

impl Checkpoint {
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        if bytes.len() < 24 {
            return Err(StoreError::corrupt(
                path,
                bytes.len() as u64,
                format!("checkpoint too short ({} bytes, need 24)", bytes.len()),
            ));
        }
        let l = |o: usize| bytes.get(o..o + 8).map(|s| i64::from_be_bytes(s.try_into().expect("8 bytes")));
        Ok(Checkpoint {
            physic_msg_timestamp: l(0).expect("checked"),
            logics_msg_timestamp: l(8).expect("checked"),
            index_msg_timestamp: l(16).expect("checked"),
            master_flushed_offset: l(24),
            confirm_phy_offset: l(32),
        })
    }

    pub fn read(path: &Path) -> Result<Self> {
        let b = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
        Self::parse(&b, path)
    }

    /// Bytes of a 4096-byte checkpoint page.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; CHECKPOINT_FILE_SIZE as usize];
        b[0..8].copy_from_slice(&self.physic_msg_timestamp.to_be_bytes());
        b[8..16].copy_from_slice(&self.logics_msg_timestamp.to_be_bytes());
        b[16..24].copy_from_slice(&self.index_msg_timestamp.to_be_bytes());
        b[24..32].copy_from_slice(&self.master_flushed_offset.unwrap_or(0).to_be_bytes());
        b[32..40].copy_from_slice(&self.confirm_phy_offset.unwrap_or(0).to_be_bytes());
        b
    }

    /// `getMinTimestamp`: min(physic, logics) − 3000 ms, floored at 0.
    pub fn min_timestamp(&self) -> i64 {
        (self.physic_msg_timestamp.min(self.logics_msg_timestamp) - 3000).max(0)
    }

    /// `getMinTimestampIndex`: min(min_timestamp, index timestamp).
    pub fn min_timestamp_index(&self) -> i64 {
        self.min_timestamp().min(self.index_msg_timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trip() {
        let c = Checkpoint {
            physic_msg_timestamp: 5000,
            logics_msg_timestamp: 4000,
            index_msg_timestamp: 10,
            master_flushed_offset: Some(0),
            confirm_phy_offset: Some(99),
        };
        let p = Path::new("checkpoint");
        assert_eq!(Checkpoint::parse(&c.to_bytes(), p).unwrap(), c);
        assert_eq!(c.min_timestamp(), 1000);
        assert_eq!(c.min_timestamp_index(), 10);
        let short = Checkpoint::parse(&c.to_bytes()[..24], p).unwrap();
        assert_eq!(short.confirm_phy_offset, None);
        assert!(Checkpoint::parse(&[0u8; 10], p).is_err());
    }
}
