//! Requests the broker forwards to one consumer client and answers with the client's
//! reply: GET_CONSUMER_RUNNING_INFO (307) and CONSUME_MESSAGE_DIRECTLY (309)
//! (`AdminBrokerProcessor#callConsumer`).

use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::codec::header::FromExtFields;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode, Version};
use rmq_remoting::protocol::client::{ConsumeMessageDirectlyResultRequestHeader, GetConsumerRunningInfoRequestHeader};
use rmq_remoting::transport::TransportError;
use rmq_store::record::decode_offset_msg_id;

use super::{fail, BrokerState, Outcome};

/// `Broker2Client#callClient` waits this long.
const CALL_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Clients older than V3_1_8_SNAPSHOT cannot answer these requests.
const MIN_CLIENT_VERSION: Version = Version(62);

pub(super) async fn consumer_running_info(state: &Arc<BrokerState>, req: &RemotingCommand) -> Outcome {
    let h = GetConsumerRunningInfoRequestHeader::from_command(req)?;
    call_consumer(state, RequestCode::GET_CONSUMER_RUNNING_INFO, req.clone(), &h.consumer_group, &h.client_id).await
}

pub(super) async fn consume_message_directly(state: &Arc<BrokerState>, req: &RemotingCommand) -> Outcome {
    let h = ConsumeMessageDirectlyResultRequestHeader::from_command(req)?;
    let mut fwd = req.clone();
    fwd.set_ext("brokerName", state.settings.broker.broker_name.clone());
    if let Some(topic) = h.topic.as_deref().filter(|t| !t.is_empty()) {
        if let Some(tc) = state.meta.topics.get(topic) {
            fwd.set_ext("topicSysFlag", tc.topic_sys_flag.to_string());
        }
    }
    if !h.consumer_group.is_empty() {
        if let Some(g) = state.meta.groups.get(&h.consumer_group) {
            fwd.set_ext("groupSysFlag", g.group_sys_flag.to_string());
        }
    }
    // The body is the stored record, looked up by its offsetMsgId (Java ignores a bad id).
    if let Some((_, offset)) = h.msg_id.as_deref().and_then(decode_offset_msg_id) {
        if let Some(bytes) = state.store.read_record(offset, None).await? {
            fwd.body = Some(bytes.into());
        }
    }
    let client_id = h.client_id.unwrap_or_default();
    call_consumer(state, RequestCode::CONSUME_MESSAGE_DIRECTLY, fwd, &h.consumer_group, &client_id).await
}

async fn call_consumer(
    state: &Arc<BrokerState>,
    code: RequestCode,
    req: RemotingCommand,
    group: &str,
    client_id: &str,
) -> Outcome {
    let Some(client) = state.consumers.client(group, client_id) else {
        return fail(ResponseCode::SYSTEM_ERROR, format!("The Consumer <{group}> <{client_id}> not online"));
    };
    if client.version < MIN_CLIENT_VERSION.0 {
        return fail(
            ResponseCode::SYSTEM_ERROR,
            format!(
                "The Consumer <{client_id}> Version <{}> too low to finish, please upgrade it to V3_1_8_SNAPSHOT",
                Version(client.version).desc()
            ),
        );
    }
    let mut fwd = RemotingCommand::request(code);
    fwd.ext_fields = req.ext_fields;
    fwd.body = req.body;
    match client.channel.invoke(fwd, CALL_CLIENT_TIMEOUT).await {
        Ok(resp) => Ok(Some(resp)),
        Err(e @ TransportError::Timeout { .. }) => {
            fail(ResponseCode::CONSUME_MSG_TIMEOUT, format!("consumer <{group}> <{client_id}> Timeout: {e}"))
        }
        Err(e) => fail(ResponseCode::SYSTEM_ERROR, format!("invoke consumer <{group}> <{client_id}> Exception: {e}")),
    }
}
