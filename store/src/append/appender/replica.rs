//! The append thread's slave side: replicated bytes, truncation, role changes.

use super::Appender;
use crate::append::config::Role;
use crate::append::encode::PROPERTY_INNER_NUM;
use crate::append::AppendError;
use crate::dispatch::{check_message, Checked};
use crate::error::StoreError;
use crate::record::{decode_message, peek_header, FLAG_INNER_BATCH};

impl Appender {
    /// Slave: writes replicated bytes at the end of the log, then parses and
    /// dispatches every record they complete.
    pub(super) fn append_raw(&mut self, offset: u64, data: &[u8]) -> Result<u64, AppendError> {
        if self.role != Role::Slave {
            return Err(AppendError::WrongRole { op: "append_raw", role: self.role });
        }
        self.cur = None;
        let size = self.queue.file_size();
        let max = self.queue.max_offset();
        let mut f = match self.queue.last() {
            // an empty slave starts at a file boundary, where the master begins sending
            None if offset.checked_rem(size) == Some(0) => {
                self.parse_pos = offset;
                self.queue.roll(offset)?
            }
            Some(f) if offset == max => f,
            _ => return Err(AppendError::OffsetMismatch { expected: max, got: offset }),
        };
        let mut at = offset;
        let mut rest = data;
        while !rest.is_empty() {
            if at >= f.from() + size {
                f = self.queue.roll(f.from() + size)?;
            }
            let pos = at - f.from();
            let n = (rest.len() as u64).min(size - pos);
            f.write_at(pos, &rest[..n as usize])?;
            f.set_wrote(pos + n, None);
            at += n;
            rest = &rest[n as usize..];
        }
        self.parse_raw()?;
        Ok(at)
    }

    /// Dispatches every complete replicated record (Java's reput on a slave:
    /// same record check, no CRC check).
    fn parse_raw(&mut self) -> Result<(), AppendError> {
        let from = self.parse_pos;
        let parsed = self.parse_raw_records();
        if self.parse_pos != from {
            if let Some(end) = self.dispatch_end.as_mut() {
                end();
            }
        }
        parsed
    }

    fn parse_raw_records(&mut self) -> Result<(), AppendError> {
        loop {
            let Some(f) = self.queue.find(self.parse_pos) else { return Ok(()) };
            let pos = self.parse_pos - f.from();
            let data = f.written();
            let Some(slice) = data.get(pos as usize..).filter(|s| s.len() >= 8) else { return Ok(()) };
            let h = peek_header(slice).map_err(|e| StoreError::record(f.path(), pos, e))?;
            if h.is_blank() {
                self.parse_pos = f.from() + f.size();
                continue;
            }
            if h.total_size > 0 && slice.len() < h.total_size as usize {
                // the rest of the record is still on its way
                return Ok(());
            }
            let req = match check_message(slice, &self.check_rules) {
                Checked::Message(r) => r,
                Checked::Blank => {
                    self.parse_pos = f.from() + f.size();
                    continue;
                }
                Checked::Invalid { reason, .. } => {
                    return Err(StoreError::corrupt(f.path(), pos, format!("replicated record: {reason}")).into())
                }
            };
            if req.commit_log_offset as u64 != self.parse_pos {
                tracing::warn!(file = %f.path().display(), pos, stored = req.commit_log_offset, "replicated record has a different PHYSICALOFFSET");
            }
            f.set_wrote(f.wrote(), Some(req.store_timestamp));
            if req.goes_to_consume_queue() {
                let num =
                    if req.sys_flag & FLAG_INNER_BATCH != 0 { inner_num(&slice[..h.total_size as usize]) } else { 1 };
                self.offsets.lock().unwrap_or_else(|e| e.into_inner()).raise(
                    &req.topic,
                    req.queue_id,
                    req.consume_queue_offset + num,
                );
            }
            if let Some(d) = self.dispatch.as_mut() {
                d(&req);
            }
            self.parse_pos += h.total_size as u64;
        }
    }

    pub(super) fn truncate(&mut self, offset: u64) -> Result<(), AppendError> {
        self.cur = None;
        self.queue.truncate(offset)?;
        self.parse_pos = self.parse_pos.min(offset);
        if let Some(h) = self.on_truncate.as_mut() {
            h(offset);
        }
        Ok(())
    }

    pub(super) fn set_role(&mut self, role: Role) -> Result<u64, AppendError> {
        self.cur = None;
        if role != self.role {
            match role {
                Role::Slave => self.parse_pos = self.queue.max_offset(),
                Role::Master => {
                    // a partly received record cannot stay in front of new writes
                    if self.parse_pos < self.queue.max_offset() {
                        tracing::warn!(offset = self.parse_pos, "dropping a partial replicated record");
                        self.truncate(self.parse_pos)?;
                    }
                    // after a replicated BLANK the rest of that file is closed
                    if let Some(f) = self.queue.last() {
                        if self.parse_pos >= f.from() + f.size() {
                            f.set_wrote(f.size(), None);
                        }
                    }
                }
            }
            tracing::info!(?role, offset = self.queue.max_offset(), "commitlog role changed");
            self.role = role;
            self.tail().role = role;
        }
        Ok(self.queue.max_offset())
    }
}

/// `INNER_NUM` of an inner-batch record (1 when absent or unreadable).
fn inner_num(record: &[u8]) -> i64 {
    decode_message(record)
        .ok()
        .and_then(|m| m.property(PROPERTY_INNER_NUM).and_then(|v| v.parse::<i16>().ok()))
        .map(|n| n.max(1) as i64)
        .unwrap_or(1)
}
