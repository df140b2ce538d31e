//! Several nodes of one DLedger group: which one to convert, and whether
//! they agree.
//!
//! The node with the highest persisted `committedIndex` is chosen (ties: the
//! node a majority voted leader of the newest term, then the longest log, then
//! the first named). Every other node is compared with it entry by entry
//! (index, term, position, size and a CRC of the body: DLedger 0.3.1.2 leaves
//! its own CRC fields zero). Nodes may differ past their own committed index
//! (DLedger truncates such tails); a difference at an index both nodes
//! declare committed means the logs cannot be trusted and the conversion is
//! refused.

use std::path::Path;

use rmq_store::dledger::EntryIter;
use rmq_store::record::crc32_masked;
use serde::Serialize;

use super::error::{ConvertError, Result};
use super::node::{Node, NodeInfo};

/// What identifies an entry's content across nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Summary {
    index: i64,
    term: i64,
    pos: i64,
    size: i32,
    crc: i32,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "term {} pos {} size {} body crc {}", self.term, self.pos, self.size, self.crc)
    }
}

/// One node compared with the chosen one.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub node: String,
    /// Common index range compared.
    pub compared_from: Option<i64>,
    pub compared_to: Option<i64>,
    pub entries_compared: u64,
    /// First index where the entries differ.
    pub diverges_at: Option<i64>,
    /// Last index held identically by both.
    pub agrees_up_to: Option<i64>,
    pub note: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupReport {
    pub nodes: Vec<NodeInfo>,
    pub chosen: String,
    pub reason: String,
    /// Node a majority voted for in the newest term.
    pub leader: Option<String>,
    pub comparisons: Vec<Comparison>,
    /// Highest index held identically by a majority of the nodes given.
    pub majority_index: Option<i64>,
    pub warnings: Vec<String>,
}

fn next(node: &Node, it: &mut EntryIter<'_>, with_crc: bool) -> Option<Summary> {
    match it.next()? {
        Ok(e) => {
            let h = e.header;
            let crc = if with_crc { crc32_masked(node.dledger.body(&e)) } else { 0 };
            Some(Summary { index: h.index, term: h.term, pos: h.pos, size: h.size, crc })
        }
        Err(err) => {
            // as DLedger's recovery, the log ends before a broken entry
            tracing::warn!("{}: {err}", node.name());
            None
        }
    }
}

/// First/last entry index and last term of a node (headers only), and the
/// broken entry the log ends at, if any.
pub fn scan_bounds(node: &mut Node) {
    let mut it = node.dledger.entries();
    let (mut first, mut last) = (None, None);
    let mut error = None;
    for r in it.by_ref() {
        match r {
            Ok(e) => {
                first.get_or_insert(e.header.index);
                last = Some(e.header);
            }
            Err(err) => {
                let path = err.path().map(Path::to_path_buf).unwrap_or_default();
                error = Some((path, err.offset().unwrap_or(0), crate::source::error_text(&err)));
            }
        }
    }
    node.info.first_index = first;
    node.info.last_index = last.map(|h| h.index);
    node.info.last_term = last.map(|h| h.term);
    node.info.log_end_error = error.as_ref().map(|(p, o, m)| format!("{} @ {o}: {m}", p.display()));
    node.scan_error = error;
}

/// The committed index a node can serve (Java clamps it to the log's end).
pub fn effective_committed(info: &NodeInfo) -> i64 {
    let c = info.committed_index.unwrap_or(-1);
    match info.last_index {
        Some(l) => c.min(l),
        None => -1,
    }
}

/// The node a majority voted for in the newest term, with its voters.
fn leader(nodes: &[Node]) -> Option<(String, Vec<String>)> {
    let term = nodes.iter().filter_map(|n| n.info.curr_term).max()?;
    let mut best: Option<(String, Vec<String>)> = None;
    for n in nodes {
        let Some(v) = n.info.vote_leader.as_ref().filter(|_| n.info.curr_term == Some(term)) else { continue };
        if best.as_ref().is_some_and(|(b, _)| b == v) {
            continue;
        }
        let voters: Vec<String> = nodes
            .iter()
            .filter(|m| m.info.curr_term == Some(term) && m.info.vote_leader.as_ref() == Some(v))
            .map(Node::name)
            .collect();
        if voters.len() * 2 > nodes.len() {
            best = Some((v.clone(), voters));
        }
    }
    best
}

/// Picks the node to convert; returns its position and why.
fn choose(nodes: &[Node], leader: Option<&(String, Vec<String>)>) -> (usize, String) {
    let committed: Vec<i64> = nodes.iter().map(|n| effective_committed(&n.info)).collect();
    let max = committed.iter().copied().max().unwrap_or(-1);
    let tied: Vec<usize> = (0..nodes.len()).filter(|&i| committed[i] == max).collect();
    let list = nodes.iter().zip(&committed).map(|(n, c)| format!("{} {c}", n.name())).collect::<Vec<_>>().join(", ");
    let mut why = format!("highest committed index {max} ({list})");
    if tied.len() == 1 {
        return (tied[0], why);
    }
    if let Some((l, voters)) = leader {
        if let Some(&i) = tied.iter().find(|&&i| nodes[i].info.self_id == *l) {
            why.push_str(&format!("; tie broken: leader of the newest term (voted by {})", voters.join(", ")));
            return (i, why);
        }
    }
    let longest = tied.iter().copied().max_by_key(|&i| (nodes[i].info.last_index, std::cmp::Reverse(i)));
    let i = longest.unwrap_or(tied[0]);
    why.push_str("; tie broken: longest log, then the first named");
    (i, why)
}

/// Compares `other` with `chosen` in lockstep over their common indexes.
fn compare(chosen: &Node, other: &Node) -> Result<Comparison> {
    let (mut ia, mut ib) = (chosen.dledger.entries(), other.dledger.entries());
    let (mut a, mut b) = (next(chosen, &mut ia, true), next(other, &mut ib, true));
    let mut c = Comparison {
        node: other.name(),
        compared_from: None,
        compared_to: None,
        entries_compared: 0,
        diverges_at: None,
        agrees_up_to: None,
        note: String::new(),
    };
    while let (Some(x), Some(y)) = (a, b) {
        if x.index < y.index {
            a = next(chosen, &mut ia, true);
            continue;
        }
        if y.index < x.index {
            b = next(other, &mut ib, true);
            continue;
        }
        c.compared_from.get_or_insert(x.index);
        c.compared_to = Some(x.index);
        c.entries_compared += 1;
        if x != y {
            let both = effective_committed(&chosen.info).min(effective_committed(&other.info));
            if x.index <= both {
                return Err(ConvertError::Disagree {
                    index: x.index,
                    a: chosen.name(),
                    a_entry: x.to_string(),
                    b: other.name(),
                    b_entry: y.to_string(),
                });
            }
            c.diverges_at = Some(x.index);
            c.note = format!(
                "differs from {} at entry {} ({x} vs {y}), past its committed index {}: DLedger would truncate its tail",
                chosen.name(),
                x.index,
                effective_committed(&other.info)
            );
            return Ok(c);
        }
        c.agrees_up_to = Some(x.index);
        a = next(chosen, &mut ia, true);
        b = next(other, &mut ib, true);
    }
    c.note = match c.compared_to {
        Some(t) => format!("identical entries {}..={t}", c.compared_from.unwrap_or(t)),
        None => "no entry index in common".into(),
    };
    if let Some(e) = &other.info.log_end_error {
        c.note.push_str(&format!("; its log ends at a broken entry: {e}"));
    }
    Ok(c)
}

/// Highest index held identically by a majority: the chosen node plus
/// `needed` others whose agreement reaches it.
fn majority_index(n: usize, chosen_last: Option<i64>, comps: &[Comparison]) -> Option<i64> {
    let needed = n / 2;
    if needed == 0 {
        return chosen_last;
    }
    let mut reach: Vec<i64> = comps.iter().filter_map(|c| c.agrees_up_to).collect();
    reach.sort_unstable_by(|a, b| b.cmp(a));
    reach.get(needed - 1).copied()
}

/// Checks the nodes, picks one, compares the others with it. Returns the
/// position of the chosen node in `nodes`.
pub fn check_group(nodes: &mut [Node], progress: &mut dyn FnMut(u64, u64)) -> Result<(usize, GroupReport)> {
    for (i, n) in nodes.iter().enumerate() {
        for m in &nodes[..i] {
            if !n.info.self_id.is_empty() && n.info.self_id == m.info.self_id {
                let msg = format!("same DLedger node id {} as {}", n.info.self_id, m.info.dir.display());
                return Err(ConvertError::refused(&n.info.dir, msg));
            }
            if let (Some(g), Some(h)) = (&n.info.group, &m.info.group) {
                if g != h {
                    let msg = format!("dLegerGroup {g} differs from {h} of {}", m.info.dir.display());
                    return Err(ConvertError::refused(&n.info.dir, msg));
                }
            }
        }
    }
    let total = nodes.len() as u64 * 2;
    for (i, n) in nodes.iter_mut().enumerate() {
        scan_bounds(n);
        progress(i as u64 + 1, total);
    }
    let lead = leader(nodes);
    let (chosen, reason) = choose(nodes, lead.as_ref());
    let mut comparisons = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        if i != chosen {
            comparisons.push(compare(&nodes[chosen], n)?);
        }
        progress(nodes.len() as u64 + i as u64 + 1, total);
    }
    let ch = &nodes[chosen].info;
    let majority = majority_index(nodes.len(), ch.last_index, &comparisons);
    let mut warnings = Vec::new();
    let committed = effective_committed(ch);
    if let Some(m) = majority.filter(|m| *m > committed) {
        warnings.push(format!(
            "entries {}..={m} are held by a majority but beyond every persisted committed index \
             (DLedger persists it every 3 s); --include-uncommitted converts them",
            committed + 1
        ));
    }
    let report = GroupReport {
        nodes: nodes.iter().map(|n| n.info.clone()).collect(),
        chosen: nodes[chosen].name(),
        reason,
        leader: lead.map(|(l, _)| l),
        comparisons,
        majority_index: majority,
        warnings,
    };
    Ok((chosen, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(agrees: Option<i64>) -> Comparison {
        Comparison {
            node: "x".into(),
            compared_from: None,
            compared_to: None,
            entries_compared: 0,
            diverges_at: None,
            agrees_up_to: agrees,
            note: String::new(),
        }
    }

    #[test]
    fn majority_needs_half_of_the_others() {
        assert_eq!(majority_index(1, Some(9), &[]), Some(9));
        assert_eq!(majority_index(3, Some(9), &[comp(Some(7)), comp(Some(4))]), Some(7));
        assert_eq!(majority_index(3, Some(9), &[comp(None), comp(None)]), None);
        assert_eq!(majority_index(5, Some(9), &[comp(Some(7)), comp(Some(4)), comp(Some(8)), comp(None)]), Some(7));
    }
}
