//! Iteration orders of the Java collections the admin tool prints from.
//!
//! Java mqadmin decodes response bodies with fastjson into `HashMap`s/`HashSet`s and
//! prints them by iterating, so its output order is the hash order of those
//! collections, not the order of the JSON text. `HashMap` orders come from
//! `rmq_common::java`; this module adds `ConcurrentHashMap`, which backs
//! `java.util.Properties` since Java 9 (the golden captures ran on OpenJDK 17).

use rmq_common::java;

/// Order in which a `HashMap`/`HashSet` (default capacity, filled in the given order)
/// iterates `keys`: returns indexes into `keys`.
pub fn hashmap_order_idx(keys: &[&str]) -> Vec<usize> {
    hashmap_order_idx_cap(keys, java::hashmap_capacity(keys.len()))
}

/// Same, for a table of a known capacity (e.g. `new HashMap<>(4)`).
pub fn hashmap_order_idx_cap(keys: &[&str], capacity: usize) -> Vec<usize> {
    let indexed: Vec<(usize, &str)> = keys.iter().copied().enumerate().collect();
    let wrapped: Vec<Wrap> = indexed.iter().map(|(i, k)| Wrap(*i, k)).collect();
    java::hashmap_order(wrapped.iter(), capacity).into_iter().map(|w| w.0).collect()
}

struct Wrap<'a>(usize, &'a str);

impl AsRef<str> for Wrap<'_> {
    fn as_ref(&self) -> &str {
        self.1
    }
}

/// The strings of `items` in `HashSet` order.
pub fn hashset_order(items: &[String]) -> Vec<String> {
    java::hashmap_order_owned(items)
}

/// `HashMap<Long, _>` order of `keys` (given in insertion order).
pub fn long_hashmap_order(keys: &[i64]) -> Vec<i64> {
    java::long_hashmap_order(keys)
}

const TREEIFY_THRESHOLD: usize = 8;
const MIN_TREEIFY_CAPACITY: usize = 64;

/// Iteration order of a `ConcurrentHashMap<String, _>` created with
/// `new ConcurrentHashMap<>(initial)` and filled with distinct `keys` in order
/// (returns indexes into `keys`). Follows OpenJDK 17: bins append at the tail, a
/// resize happens when the count reaches 3/4 of the table, and each resize splits a
/// bin into its low/high halves reusing the trailing run ("lastRun") and prepending
/// the nodes before it (which reverses them). Tree bins (9+ keys in one bin of a
/// 64+ table) would iterate differently and are not modelled.
pub fn concurrent_hashmap_order(keys: &[&str], initial: usize) -> Vec<usize> {
    let size = (1.0 + initial as f64 / 0.75) as usize;
    let mut n = size.max(1).next_power_of_two();
    let mut size_ctl = n - (n >> 2);
    let mut table: Vec<Vec<(u32, usize)>> = vec![Vec::new(); n];
    for (idx, key) in keys.iter().enumerate() {
        let h32 = java::string_hash_code(key) as u32;
        let h = (h32 ^ (h32 >> 16)) & 0x7fff_ffff;
        let bin = &mut table[h as usize & (n - 1)];
        let before = bin.len();
        bin.push((h, idx));
        if before >= TREEIFY_THRESHOLD && n < MIN_TREEIFY_CAPACITY {
            // treeifyBin -> tryPresize(n << 1): grow until sizeCtl reaches tableSizeFor(3n + 1).
            let target = (3 * n + 1).next_power_of_two();
            while target > size_ctl {
                table = transfer(&table);
                n = table.len();
                size_ctl = n - (n >> 2);
            }
        }
        let count = idx + 1;
        while count >= size_ctl {
            table = transfer(&table);
            n = table.len();
            size_ctl = n - (n >> 2);
        }
    }
    table.into_iter().flatten().map(|(_, idx)| idx).collect()
}

fn transfer(old: &[Vec<(u32, usize)>]) -> Vec<Vec<(u32, usize)>> {
    let n = old.len();
    let mut next: Vec<Vec<(u32, usize)>> = vec![Vec::new(); 2 * n];
    for (i, bin) in old.iter().enumerate() {
        if bin.is_empty() {
            continue;
        }
        let bit = |h: u32| h as usize & n;
        // The last run of nodes that all go to the same half keeps its order.
        let mut last_run = 0;
        for j in 1..bin.len() {
            if bit(bin[j].0) != bit(bin[j - 1].0) {
                last_run = j;
            }
        }
        let (mut lo, mut hi) = (Vec::new(), Vec::new());
        if bit(bin[last_run].0) == 0 {
            lo.extend_from_slice(&bin[last_run..]);
        } else {
            hi.extend_from_slice(&bin[last_run..]);
        }
        for node in &bin[..last_run] {
            if bit(node.0) == 0 {
                lo.insert(0, *node);
            } else {
                hi.insert(0, *node);
            }
        }
        next[i] = lo;
        next[i + n] = hi;
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_chm_is_bucket_order() {
        // Without collisions or resizes the order is by (hash ^ hash >>> 16) & 15.
        let keys = ["a", "b", "c"];
        assert_eq!(concurrent_hashmap_order(&keys, 8), vec![0, 1, 2]);
    }

    /// 52 name server config keys (the order our name server sends them), put into a
    /// `java.util.Properties` forwards and backwards: the iteration orders OpenJDK 17
    /// printed. Three resizes (16 -> 32 -> 64 -> 128) with shared bins exercise the
    /// lastRun split.
    #[test]
    fn chm_order_matches_openjdk17_properties() {
        let keys = "rocketmqHome,kvConfigPath,configStorePath,productEnvName,clusterTest,orderMessageEnable,\
         returnOrderTopicConfigToBroker,clientRequestThreadPoolNums,defaultThreadPoolNums,\
         clientRequestThreadPoolQueueCapacity,defaultThreadPoolQueueCapacity,\
         scanNotActiveBrokerInterval,unRegisterBrokerQueueCapacity,supportActingMaster,\
         enableAllTopicList,enableTopicList,notifyMinBrokerIdChanged,enableControllerInNamesrv,\
         needWaitForService,waitSecondsForService,deleteTopicWithBrokerRegistration,configBlackList,\
         bindAddress,listenPort,serverWorkerThreads,serverCallbackExecutorThreads,\
         serverSelectorThreads,serverOnewaySemaphoreValue,serverAsyncSemaphoreValue,\
         serverChannelMaxIdleTimeSeconds,serverSocketSndBufSize,serverSocketRcvBufSize,\
         writeBufferHighWaterMark,writeBufferLowWaterMark,serverSocketBacklog,\
         serverNettyWorkerGroupEnable,serverPooledByteBufAllocatorEnable,enableShutdownGracefully,\
         shutdownWaitTimeSeconds,useEpollNativeSelector,clientWorkerThreads,\
         clientCallbackExecutorThreads,clientOnewaySemaphoreValue,clientAsyncSemaphoreValue,\
         connectTimeoutMillis,channelNotActiveInterval,clientChannelMaxIdleTimeSeconds,\
         clientSocketSndBufSize,clientSocketRcvBufSize,clientPooledByteBufAllocatorEnable,\
         clientCloseSocketIfTimeout,useTLS";
        let java_fwd = "defaultThreadPoolQueueCapacity,serverSocketBacklog,clientWorkerThreads,\
         clientAsyncSemaphoreValue,channelNotActiveInterval,clientSocketSndBufSize,\
         writeBufferHighWaterMark,clientRequestThreadPoolQueueCapacity,\
         serverChannelMaxIdleTimeSeconds,clientChannelMaxIdleTimeSeconds,clientSocketRcvBufSize,\
         writeBufferLowWaterMark,returnOrderTopicConfigToBroker,serverOnewaySemaphoreValue,\
         productEnvName,enableTopicList,bindAddress,serverNettyWorkerGroupEnable,\
         serverAsyncSemaphoreValue,configStorePath,connectTimeoutMillis,clientCloseSocketIfTimeout,\
         clientPooledByteBufAllocatorEnable,serverCallbackExecutorThreads,rocketmqHome,\
         useEpollNativeSelector,serverPooledByteBufAllocatorEnable,defaultThreadPoolNums,\
         enableControllerInNamesrv,needWaitForService,serverSelectorThreads,\
         deleteTopicWithBrokerRegistration,scanNotActiveBrokerInterval,clientRequestThreadPoolNums,\
         configBlackList,serverSocketRcvBufSize,enableAllTopicList,kvConfigPath,clusterTest,\
         supportActingMaster,clientCallbackExecutorThreads,enableShutdownGracefully,useTLS,\
         notifyMinBrokerIdChanged,unRegisterBrokerQueueCapacity,waitSecondsForService,\
         clientOnewaySemaphoreValue,shutdownWaitTimeSeconds,serverWorkerThreads,orderMessageEnable,\
         serverSocketSndBufSize,listenPort";
        let java_rev = "defaultThreadPoolQueueCapacity,serverSocketBacklog,clientWorkerThreads,\
         clientAsyncSemaphoreValue,channelNotActiveInterval,clientSocketSndBufSize,\
         writeBufferHighWaterMark,serverChannelMaxIdleTimeSeconds,clientChannelMaxIdleTimeSeconds,\
         clientRequestThreadPoolQueueCapacity,clientSocketRcvBufSize,writeBufferLowWaterMark,\
         returnOrderTopicConfigToBroker,serverOnewaySemaphoreValue,productEnvName,enableTopicList,\
         bindAddress,serverNettyWorkerGroupEnable,serverAsyncSemaphoreValue,connectTimeoutMillis,\
         configStorePath,clientCloseSocketIfTimeout,clientPooledByteBufAllocatorEnable,\
         serverCallbackExecutorThreads,useEpollNativeSelector,rocketmqHome,\
         serverPooledByteBufAllocatorEnable,defaultThreadPoolNums,enableControllerInNamesrv,\
         needWaitForService,scanNotActiveBrokerInterval,deleteTopicWithBrokerRegistration,\
         serverSelectorThreads,clientRequestThreadPoolNums,configBlackList,serverSocketRcvBufSize,\
         enableAllTopicList,kvConfigPath,supportActingMaster,clusterTest,\
         clientCallbackExecutorThreads,enableShutdownGracefully,useTLS,notifyMinBrokerIdChanged,\
         waitSecondsForService,unRegisterBrokerQueueCapacity,clientOnewaySemaphoreValue,\
         shutdownWaitTimeSeconds,serverWorkerThreads,orderMessageEnable,serverSocketSndBufSize,\
         listenPort";
        let fwd: Vec<&str> = keys.split(',').collect();
        let got: Vec<&str> = concurrent_hashmap_order(&fwd, 8).into_iter().map(|i| fwd[i]).collect();
        assert_eq!(got.join(","), java_fwd);
        let rev: Vec<&str> = fwd.iter().rev().copied().collect();
        let got: Vec<&str> = concurrent_hashmap_order(&rev, 8).into_iter().map(|i| rev[i]).collect();
        assert_eq!(got.join(","), java_rev);
    }

    #[test]
    fn transfer_splits_like_openjdk() {
        // One bin of a 2-table: hashes with bit 2 set go high. Sequence lo, hi, lo, lo:
        // lastRun = index 2 (lo, lo); node 0 (lo) is prepended -> lo = [0, 2, 3]; hi = [1].
        let bin = vec![(0u32, 0usize), (2, 1), (4, 2), (8, 3)];
        let next = transfer(&[bin, vec![]]);
        assert_eq!(next[0], vec![(0, 0), (4, 2), (8, 3)]);
        assert_eq!(next[2], vec![(2, 1)]);
        // lo, hi, lo, hi: lastRun = 3 (hi); prefix prepended in reverse.
        let bin = vec![(0u32, 0usize), (2, 1), (4, 2), (6, 3)];
        let next = transfer(&[bin, vec![]]);
        assert_eq!(next[0], vec![(4, 2), (0, 0)]);
        assert_eq!(next[2], vec![(2, 1), (6, 3)]);
    }
}
