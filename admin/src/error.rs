//! Failures, named after the Java exceptions mqadmin would report for the same
//! situation, so the stderr text reads like Java's `printStackTrace` head
//! (`Class: message` and `Caused by:` lines, without stack frames).

use std::fmt;

use crate::format::NumberFormatError;

/// FAQ link Java appends to client/broker exception messages (`FAQUrl.attachDefaultURL`).
const FAQ_URL: &str = "https://rocketmq.apache.org/docs/bestPractice/06FAQ";

/// One failure of a remote call or of local processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// `RemotingConnectException` (plus the OS reason, which Java keeps in its log only).
    /// `addr` is `None` when no name server address is configured at all.
    Connect { addr: Option<String>, reason: String },
    /// `RemotingTimeoutException`.
    Timeout { addr: String, millis: u64 },
    /// `RemotingSendRequestException`: the connection broke before the answer came.
    SendRequest { addr: String },
    /// `MQClientException(code, remark)`.
    Client { code: i32, remark: Option<String> },
    /// `MQClientException(message, cause)`: a message without a response code.
    ClientMessage(String),
    /// `MQBrokerException(code, remark[, addr])`.
    Broker { code: i32, remark: Option<String>, addr: Option<String> },
    /// fastjson `JSONException`: a body that does not decode.
    Json(String),
    /// `NumberFormatException`.
    NumberFormat(String),
    /// `NullPointerException` (Java dereferenced a missing value).
    NullPointer,
    /// `IllegalArgumentException`.
    IllegalArgument(String),
    /// A plain `java.lang.Exception(message)` (`CommandUtil`'s look-ups).
    Plain(String),
    /// Any other Java exception, by class name.
    Java { class: &'static str, message: String },
}

impl AdminError {
    fn class(&self) -> &'static str {
        match self {
            AdminError::Connect { .. } => "org.apache.rocketmq.remoting.exception.RemotingConnectException",
            AdminError::Timeout { .. } => "org.apache.rocketmq.remoting.exception.RemotingTimeoutException",
            AdminError::SendRequest { .. } => "org.apache.rocketmq.remoting.exception.RemotingSendRequestException",
            AdminError::Client { .. } | AdminError::ClientMessage(_) => {
                "org.apache.rocketmq.client.exception.MQClientException"
            }
            AdminError::Broker { .. } => "org.apache.rocketmq.client.exception.MQBrokerException",
            AdminError::Json(_) => "com.alibaba.fastjson.JSONException",
            AdminError::NumberFormat(_) => "java.lang.NumberFormatException",
            AdminError::NullPointer => "java.lang.NullPointerException",
            AdminError::IllegalArgument(_) => "java.lang.IllegalArgumentException",
            AdminError::Plain(_) => "java.lang.Exception",
            AdminError::Java { class, .. } => class,
        }
    }

    fn message(&self) -> Option<String> {
        let remark = |r: &Option<String>| r.clone().unwrap_or_else(|| "null".into());
        match self {
            AdminError::Connect { addr, .. } => {
                Some(format!("connect to {} failed", addr.as_deref().unwrap_or("null")))
            }
            AdminError::Timeout { addr, millis } => {
                Some(format!("wait response on the channel <{addr}> timeout, {millis}(ms)"))
            }
            AdminError::SendRequest { addr } => Some(format!("send request to <{addr}> failed")),
            AdminError::Client { code, remark: r } => Some(attach_faq(format!("CODE: {code}  DESC: {}", remark(r)))),
            AdminError::ClientMessage(m) => Some(attach_faq(m.clone())),
            AdminError::Broker { code, remark: r, addr } => {
                let broker = addr.as_ref().map(|a| format!(" BROKER: {a}")).unwrap_or_default();
                Some(attach_faq(format!("CODE: {code}  DESC: {}{broker}", remark(r))))
            }
            AdminError::Json(m)
            | AdminError::NumberFormat(m)
            | AdminError::IllegalArgument(m)
            | AdminError::Plain(m) => Some(m.clone()),
            AdminError::Java { message, .. } => Some(message.clone()),
            AdminError::NullPointer => None,
        }
    }

    /// Extra cause line we add where Java's own exception would hide the reason.
    fn detail(&self) -> Option<String> {
        match self {
            AdminError::Connect { addr: None, .. } => Some(
                "java.lang.IllegalStateException: no name server address; use -n/--namesrvAddr or set NAMESRV_ADDR"
                    .into(),
            ),
            AdminError::Connect { reason, .. } => Some(format!("java.net.ConnectException: {reason}")),
            _ => None,
        }
    }

    /// The `Throwable.toString()` line plus our optional detail line.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![match self.message() {
            Some(m) => format!("{}: {m}", self.class()),
            None => self.class().to_string(),
        }];
        if let Some(d) = self.detail() {
            out.push(format!("Caused by: {d}"));
        }
        out
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines().join("\n"))
    }
}

impl std::error::Error for AdminError {}

impl From<NumberFormatError> for AdminError {
    fn from(e: NumberFormatError) -> Self {
        AdminError::NumberFormat(e.message)
    }
}

/// `FAQUrl.attachDefaultURL`: adds the FAQ link unless the text already has a `\nSee ` tip.
fn attach_faq(message: String) -> String {
    if message.contains("\nSee ") {
        message
    } else {
        format!("{message}\nFor more information, please visit the url, {FAQ_URL}")
    }
}

/// Why a sub-command failed: Java wraps errors raised inside the command's `try` in
/// `SubCommandException("<Class> command failed", cause)`; a few escape unwrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Simple class name of the Java sub-command, when the error is wrapped.
    pub wrapped_by: Option<&'static str>,
    pub error: AdminError,
}

impl Failure {
    pub fn wrapped(class: &'static str, error: AdminError) -> Failure {
        Failure { wrapped_by: Some(class), error }
    }

    pub fn bare(error: AdminError) -> Failure {
        Failure { wrapped_by: None, error }
    }

    /// What goes to stderr.
    pub fn render(&self) -> String {
        let mut lines = Vec::new();
        let mut cause = self.error.lines();
        match self.wrapped_by {
            Some(class) => {
                lines.push(format!("org.apache.rocketmq.tools.command.SubCommandException: {class} command failed"));
                cause[0] = format!("Caused by: {}", cause[0]);
                lines.extend(cause);
            }
            None => lines.extend(cause),
        }
        let mut s = lines.join("\n");
        s.push('\n');
        s
    }
}

/// `.map_err(wrap("TopicRouteSubCommand"))`.
pub fn wrap(class: &'static str) -> impl Fn(AdminError) -> Failure {
    move |e| Failure::wrapped(class, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_print_stack_trace_head() {
        let f = Failure::wrapped(
            "TopicRouteSubCommand",
            AdminError::Client {
                code: 17,
                remark: Some(format!(
                    "No topic route info in name server for the topic: T\nSee {FAQ_URL} for further details."
                )),
            },
        );
        assert_eq!(
            f.render(),
            "org.apache.rocketmq.tools.command.SubCommandException: TopicRouteSubCommand command failed\n\
             Caused by: org.apache.rocketmq.client.exception.MQClientException: CODE: 17  DESC: No topic route info in name server for the topic: T\n\
             See https://rocketmq.apache.org/docs/bestPractice/06FAQ for further details.\n"
        );
        let f = Failure::bare(AdminError::NumberFormat("For input string: \"x\"".into()));
        assert_eq!(f.render(), "java.lang.NumberFormatException: For input string: \"x\"\n");
        let e = AdminError::Broker { code: 1, remark: None, addr: Some("1.2.3.4:5".into()) };
        assert_eq!(
            e.to_string(),
            "org.apache.rocketmq.client.exception.MQBrokerException: CODE: 1  DESC: null BROKER: 1.2.3.4:5\n\
             For more information, please visit the url, https://rocketmq.apache.org/docs/bestPractice/06FAQ"
        );
    }
}
