#!/usr/bin/env python3
"""Driver for the Apache RocketMQ C++ client as shipped in the PyPI wheels
`rocketmq-client-python==0.5.0rc2` ("cpp050") and `rocketmq==0.4.4` ("cpp044").

Run it with the interpreter of the venv that holds one wheel (scripts/install-clients.sh); the
wheel in use is detected at start. The Python wrapper (`rocketmq.client`) is used where it exposes
a feature; everything else goes straight to the C API of the bundled librocketmq.so through ctypes
(`rocketmq.ffi.dll`, declarations below from include/CProducer.h, CPushConsumer.h, CPullConsumer.h,
CBatchMessage.h, CMessageExt.h, CSendResult.h of apache/rocketmq-client-cpp).

Command line (same for every driver, see compat-tests/clients/README.md):

    driver.py SCENARIO --namesrv 127.0.0.1:PORT --topic T [--group G] [options]

Prints one JSON object per line on stdout (`event`: start, ready, sent, send_error, check,
received, error, unsupported, done) and exits 0 on success, 1 on failure, 2 when the client cannot
do what was asked (an `unsupported` event says what), 3 on timeout.
"""
import argparse
import ctypes
import hashlib
import json
import os
import sys
import threading
import time
import zlib
from ctypes import POINTER, Structure, c_char, c_char_p, c_int, c_longlong, c_void_p

EXIT_OK, EXIT_FAIL, EXIT_UNSUPPORTED, EXIT_TIMEOUT = 0, 1, 2, 3

_print_lock = threading.Lock()


def emit(event, **fields):
    fields = dict(event=event, client=CLIENT, **fields)
    line = json.dumps(fields, sort_keys=True)
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def finish(code):
    """Leave without running C++ static destructors (they can hang after a shutdown)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("scenario", choices=["send", "transaction", "consume", "pull", "info"])
    p.add_argument("--namesrv", required=False, default="")
    p.add_argument("--topic", default="")
    p.add_argument("--group", default="")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--mode", default="sync", choices=["sync", "oneway", "async", "orderly", "batch"])
    p.add_argument("--tags", default="", help="comma list, cycled over the messages")
    p.add_argument("--body-size", type=int, default=64)
    p.add_argument("--sharding-keys", type=int, default=0, help="message i gets key sk-(i mod N)")
    p.add_argument("--delay-level", type=int, default=0)
    p.add_argument("--run-id", default="r")
    p.add_argument("--seq-start", type=int, default=0)
    p.add_argument("--tx", default="commit", choices=["commit", "rollback", "unknown"])
    p.add_argument("--check", default="commit", choices=["commit", "rollback", "unknown"])
    p.add_argument("--wait-checks", type=float, default=0, help="seconds to stay up answering check-backs")
    p.add_argument("--model", default="clustering", choices=["clustering", "broadcasting"])
    p.add_argument("--subscribe", default="*")
    p.add_argument("--orderly", action="store_true")
    p.add_argument("--expect", type=int, default=0, help="deliveries to wait for")
    p.add_argument("--idle", type=float, default=2.0, help="seconds without a delivery before stopping")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--reconsume-later", default="none", choices=["none", "all"])
    p.add_argument("--max-reconsume-times", type=int, default=-1)
    p.add_argument("--instance", default="")
    p.add_argument("--send-timeout-ms", type=int, default=3000)
    a = p.parse_args(argv)
    if a.scenario != "info":
        if not a.namesrv or not a.topic:
            p.error("--namesrv and --topic are required")
        host = a.namesrv.split(";")[0].rsplit(":", 1)[0]
        if not (host.startswith("127.") or host == "localhost"):
            p.error("refusing a name server that is not on the loopback interface: %s" % a.namesrv)
    if not a.group:
        a.group = "compat_%s_%s" % (CLIENT, a.scenario)
    return a


# ---------------------------------------------------------------------------------------------
# The wheel in use and its C library
# ---------------------------------------------------------------------------------------------
def _detect():
    try:
        from importlib import metadata
    except ImportError:  # pragma: no cover
        import importlib_metadata as metadata
    for dist, name in (("rocketmq-client-python", "cpp050"), ("rocketmq", "cpp044")):
        try:
            return name, "%s==%s" % (dist, metadata.version(dist))
        except metadata.PackageNotFoundError:
            continue
    return "cpp", "unknown"


CLIENT, PACKAGE = _detect()

# Quiet the C++ client before anything loads it: it logs under $HOME/logs/rocketmq-cpp.
import rocketmq.client as rmq  # noqa: E402
from rocketmq.ffi import dll  # noqa: E402


# The wrapper's own struct: functions it declared keep working with the argtypes set below.
from rocketmq.ffi import _CSendResult as CSendResult  # noqa: E402


class CMQException(Structure):
    _fields_ = [("error", c_int), ("line", c_int), ("file", c_char * 512), ("msg", c_char * 512),
                ("type", c_char * 512)]


class CMessageQueue(Structure):
    _fields_ = [("topic", c_char * 512), ("brokerName", c_char * 256), ("queueId", c_int)]


class CPullResult(Structure):
    _fields_ = [("pullStatus", c_int), ("nextBeginOffset", c_longlong), ("minOffset", c_longlong),
                ("maxOffset", c_longlong), ("msgFoundList", POINTER(c_void_p)), ("size", c_int),
                ("pData", c_void_p)]


def has_symbol(name):
    try:
        getattr(dll, name)
        return True
    except AttributeError:
        return False


# Callback types exactly as in the headers (CSendResult / CMQException are passed BY VALUE).
SEND_OK_CB = ctypes.CFUNCTYPE(None, CSendResult)
SEND_EXC_CB = ctypes.CFUNCTYPE(None, CMQException)
MSG_CB = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p)
SELECTOR_CB = ctypes.CFUNCTYPE(c_int, c_int, c_void_p, c_void_p)


def _declare(name, argtypes, restype=c_int):
    if has_symbol(name):
        f = getattr(dll, name)
        f.argtypes = argtypes
        f.restype = restype


_declare("SetByteMessageBody", [c_void_p, c_char_p, c_int])
_declare("SendMessageAsync", [c_void_p, c_void_p, SEND_OK_CB, SEND_EXC_CB])
_declare("SendMessageOrderly", [c_void_p, c_void_p, SELECTOR_CB, c_void_p, c_int, POINTER(CSendResult)])
_declare("SendMessageOrderlyByShardingKey", [c_void_p, c_void_p, c_char_p, POINTER(CSendResult)])
_declare("CreateBatchMessage", [], c_void_p)
_declare("AddMessage", [c_void_p, c_void_p])
_declare("DestroyBatchMessage", [c_void_p])
_declare("SendBatchMessage", [c_void_p, c_void_p, POINTER(CSendResult)])
_declare("SetProducerLogLevel", [c_void_p, c_int])
_declare("SetPushConsumerLogLevel", [c_void_p, c_int])
_declare("SetPullConsumerLogLevel", [c_void_p, c_int])
_declare("SetProducerCompressMsgBodyOverHowmuch", [c_void_p, c_int])
_declare("Subscribe", [c_void_p, c_char_p, c_char_p])
_declare("RegisterMessageCallback", [c_void_p, MSG_CB])
_declare("RegisterMessageCallbackOrderly", [c_void_p, MSG_CB])
_declare("CreatePullConsumer", [c_char_p], c_void_p)
_declare("SetPullConsumerNameServerAddress", [c_void_p, c_char_p])
_declare("StartPullConsumer", [c_void_p])
_declare("ShutdownPullConsumer", [c_void_p])
_declare("FetchSubscriptionMessageQueues", [c_void_p, c_char_p, POINTER(POINTER(CMessageQueue)), POINTER(c_int)])
_declare("ReleaseSubscriptionMessageQueue", [POINTER(CMessageQueue)])
_declare("Pull", [c_void_p, POINTER(CMessageQueue), c_char_p, c_longlong, c_int], CPullResult)
_declare("ReleasePullResult", [CPullResult])
for _name, _res in (("GetMessageTopic", c_char_p), ("GetMessageTags", c_char_p), ("GetMessageKeys", c_char_p),
                    ("GetMessageBody", c_char_p), ("GetMessageId", c_char_p), ("GetMessageQueueId", c_int),
                    ("GetMessageReconsumeTimes", c_int), ("GetMessageQueueOffset", c_longlong),
                    ("GetMessageStoreTimestamp", c_longlong), ("GetMessageBornTimestamp", c_longlong),
                    ("GetMessageDelayTimeLevel", c_int)):
    _declare(_name, [c_void_p], _res)
_declare("GetMessageProperty", [c_void_p, c_char_p], c_char_p)
_declare("GetLatestErrorMessage", [], c_char_p)

LOG_LEVEL_ERROR = 2
MAX_MESSAGE_SIZE = 4 * 1024 * 1024

# What the wrapper of this wheel exposes, and what only the C API offers.
WRAPPER = {
    "send_sync": hasattr(rmq.Producer, "send_sync"),
    "send_oneway": hasattr(rmq.Producer, "send_oneway"),
    "send_async": hasattr(rmq.Producer, "send_async"),
    "send_orderly_selector": hasattr(rmq.Producer, "send_orderly"),
    "send_orderly_sharding_key": hasattr(rmq.Producer, "send_orderly_with_sharding_key"),
    "send_batch": hasattr(rmq.Producer, "send_batch"),
    "transaction": hasattr(rmq, "TransactionMQProducer"),
    "push_consumer": hasattr(rmq, "PushConsumer"),
    "pull_consumer": hasattr(rmq, "PullConsumer"),
}
C_API = {name: has_symbol(name) for name in (
    "SendMessageAsync", "SendMessageOrderly", "SendMessageOrderlyByShardingKey", "SendBatchMessage",
    "CreateTransactionProducer", "SendMessageTransaction", "CreatePullConsumer", "Pull",
    "SetProducerCompressMsgBodyOverHowmuch", "SetPushConsumerMessageModel", "RegisterMessageCallbackOrderly")}


def last_error():
    msg = dll.GetLatestErrorMessage()
    return msg.decode("utf-8", "replace") if msg else ""


def classify(message):
    """Coarse error kind, the same vocabulary in every driver."""
    m = message.lower()
    if "no route info" in m or "no topic route info" in m or "topic not exist" in m or "topic_not_exist" in m or "route info of topic" in m:
        return "no_route"
    if "connect" in m and ("namesrv" in m or "name server" in m or "nameserver" in m):
        return "namesrv_unreachable"
    if "timeout" in m or "timed out" in m:
        return "timeout"
    if "connect" in m:
        return "connect_failed"
    return "other"


# ---------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------
FILL = b"RocketMQ-compat-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ\n"


def make_body(run, seq, size):
    head = ("%s:%s:%d:" % (run, CLIENT, seq)).encode()
    if size <= len(head):
        return head[:max(size, 1)]
    reps = (size - len(head)) // len(FILL) + 1
    return head + (FILL * reps)[: size - len(head)]


def sha256(b):
    return hashlib.sha256(b).hexdigest()


class Spec(object):
    """One message to send: everything the test compares on the receiving side."""

    def __init__(self, args, seq):
        tags = [t for t in args.tags.split(",") if t]
        self.seq = seq
        self.body = make_body(args.run_id, seq, args.body_size)
        self.tag = tags[seq % len(tags)] if tags else ""
        self.keys = "k-%s-%d" % (args.run_id, seq)
        self.sk = ("sk-%d" % (seq % args.sharding_keys)) if args.sharding_keys > 0 else ""
        self.delay = args.delay_level
        self.props = {"compat_seq": str(seq), "compat_run": args.run_id, "compat_client": CLIENT}
        if self.sk:
            self.props["compat_sk"] = self.sk

    def to_c(self, topic):
        msg = rmq.Message(topic)
        if self.tag:
            msg.set_tags(self.tag)
        msg.set_keys(self.keys)
        dll.SetByteMessageBody(msg._handle, self.body, len(self.body))
        for k, v in sorted(self.props.items()):
            msg.set_property(k, v)
        if self.delay:
            msg.set_delay_time_level(self.delay)
        return msg

    def fields(self):
        return dict(seq=self.seq, bodySha256=sha256(self.body), bodyLen=len(self.body), tags=self.tag,
                    keys=self.keys, shardingKey=self.sk or None, delayLevel=self.delay or None)


RECV_PROPS = ["compat_seq", "compat_run", "compat_client", "compat_sk", "DELAY", "RETRY_TOPIC",
              "ORIGIN_MESSAGE_ID", "TRAN_MSG", "UNIQ_KEY", "REAL_TOPIC", "REAL_QID", "PGROUP"]


def _s(b):
    return b.decode("utf-8", "replace") if b is not None else None


def describe_ext(handle):
    """A received CMessageExt* as a `received` event's fields."""
    body = dll.GetMessageBody(handle) or b""
    props = {}
    for k in RECV_PROPS:
        v = dll.GetMessageProperty(handle, k.encode())
        if v:
            props[k] = _s(v)
    return dict(msgId=_s(dll.GetMessageId(handle)), topic=_s(dll.GetMessageTopic(handle)),
                queueId=dll.GetMessageQueueId(handle), queueOffset=dll.GetMessageQueueOffset(handle),
                bodySha256=sha256(body), bodyLen=len(body), tags=_s(dll.GetMessageTags(handle)) or "",
                keys=_s(dll.GetMessageKeys(handle)) or "", properties=props,
                reconsumeTimes=dll.GetMessageReconsumeTimes(handle),
                bornTimestamp=dll.GetMessageBornTimestamp(handle),
                storeTimestamp=dll.GetMessageStoreTimestamp(handle),
                receivedAt=int(time.time() * 1000))


def unsupported(feature, why):
    emit("unsupported", feature=feature, reason=why)
    finish(EXIT_UNSUPPORTED)


def start_watchdog(seconds):
    def fire():
        emit("timeout", seconds=seconds)
        finish(EXIT_TIMEOUT)
    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()
    return t


def java_string_hash(s):
    h = 0
    for ch in s:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------
def new_producer(args, orderly=False):
    # max_message_size: the C++ default is 128 KiB; 4 MiB is the Java client's and broker's.
    if orderly and WRAPPER["send_orderly_sharding_key"]:
        p = rmq.Producer(args.group, orderly=True, timeout=args.send_timeout_ms, max_message_size=MAX_MESSAGE_SIZE)
    else:
        p = rmq.Producer(args.group, timeout=args.send_timeout_ms, max_message_size=MAX_MESSAGE_SIZE)
    p.set_namesrv_addr(args.namesrv)
    if has_symbol("SetProducerLogLevel"):
        dll.SetProducerLogLevel(p._handle, LOG_LEVEL_ERROR)
    return p


def scenario_send(args):
    specs = [Spec(args, args.seq_start + i) for i in range(args.count)]
    orderly = args.mode == "orderly"
    if args.mode == "async" and not C_API["SendMessageAsync"]:
        unsupported("send_async", "no SendMessageAsync in this librocketmq.so")
    if args.mode == "batch" and not C_API["SendBatchMessage"]:
        unsupported("send_batch", "no SendBatchMessage in this librocketmq.so")
    producer = new_producer(args, orderly=orderly)
    producer.start()
    emit("ready", role="producer", group=args.group)
    failures = 0

    def ok(spec, res, via, queue_id=None):
        emit("sent", msgId=res.msg_id if hasattr(res, "msg_id") else None, status=res_status(res),
             queueOffset=res.offset if hasattr(res, "offset") else None, queueId=queue_id, mode=args.mode, via=via,
             **spec.fields())

    def res_status(res):
        try:
            return "SEND_OK" if int(res.status) == 0 else str(res.status.name)
        except Exception:
            return None

    if args.mode == "batch":
        # Wrapper send_batch (cpp044) or the C API (cpp050's wrapper hides it).
        msgs = [s.to_c(args.topic) for s in specs]
        try:
            if WRAPPER["send_batch"]:
                res, via = producer.send_batch(msgs), "wrapper"
            else:
                batch = dll.CreateBatchMessage()
                for m in msgs:
                    dll.AddMessage(batch, m._handle)
                cres = CSendResult()
                rc = dll.SendBatchMessage(producer._handle, batch, ctypes.byref(cres))
                dll.DestroyBatchMessage(batch)
                if rc != 0:
                    raise RuntimeError(last_error() or "SendBatchMessage returned %d" % rc)
                res, via = rmq.SendResult(rmq.SendStatus(cres.sendStatus), cres.msgId.decode(), cres.offset), "c-api"
            # One SendResult for the whole batch: msgId is the list, offset the first message's.
            ids = res.msg_id.split(",")
            for i, s in enumerate(specs):
                emit("sent", msgId=ids[i] if i < len(ids) else None, status=res_status(res),
                     queueOffset=(res.offset + i) if res.offset is not None and res.offset >= 0 else None,
                     queueId=None, mode="batch", via=via, **s.fields())
        except Exception as e:
            failures += 1
            msg = str(e) or last_error()
            emit("send_error", seq=specs[0].seq, kind=classify(msg), message=msg, mode="batch")
    elif args.mode == "async":
        done = threading.Semaphore(0)
        refs = []
        async_errors = []
        via = "c-api"  # both wrappers' send_async declare the success callback with a pointer
        for s in specs:
            m = s.to_c(args.topic)

            def on_ok(cres, s=s):
                emit("sent", msgId=cres.msgId.decode(), status="SEND_OK" if cres.sendStatus == 0 else str(cres.sendStatus),
                     queueOffset=cres.offset, queueId=None, mode="async", via=via, **s.fields())
                done.release()

            def on_exc(cexc, s=s):
                msg = cexc.msg.decode("utf-8", "replace")
                emit("send_error", seq=s.seq, kind=classify(msg), message=msg, mode="async")
                async_errors.append(s.seq)
                done.release()

            cb_ok, cb_exc = SEND_OK_CB(on_ok), SEND_EXC_CB(on_exc)
            refs.append((cb_ok, cb_exc, m))
            rc = dll.SendMessageAsync(producer._handle, m._handle, cb_ok, cb_exc)
            if rc != 0:
                msg = last_error() or "SendMessageAsync returned %d" % rc
                emit("send_error", seq=s.seq, kind=classify(msg), message=msg, mode="async")
                async_errors.append(s.seq)
                done.release()
        deadline = time.time() + max(5.0, args.timeout - 2)
        for _ in specs:
            if not done.acquire(timeout=max(0.1, deadline - time.time())):
                emit("send_error", seq=None, kind="timeout", message="async callbacks missing", mode="async")
                failures += 1
                break
        failures += len(async_errors)
    else:
        for s in specs:
            m = s.to_c(args.topic)
            try:
                if args.mode == "sync":
                    ok(s, producer.send_sync(m), "wrapper")
                elif args.mode == "oneway":
                    producer.send_oneway(m)
                    emit("sent", msgId=None, status=None, queueOffset=None, queueId=None, mode="oneway",
                         via="wrapper", **s.fields())
                elif args.mode == "orderly":
                    key = s.sk or s.keys
                    if WRAPPER["send_orderly_sharding_key"]:
                        ok(s, producer.send_orderly_with_sharding_key(m, key), "wrapper")
                    else:
                        # cpp044: the wrapper's send_orderly picks queue = arg % queue count.
                        ok(s, producer.send_orderly(m, java_string_hash(key) & 0x7FFFFFFF), "wrapper")
            except Exception as e:
                failures += 1
                msg = str(e) or last_error()
                emit("send_error", seq=s.seq, kind=classify(msg), message=msg, mode=args.mode)
                if args.count > 1 and failures >= 3:
                    break
    try:
        producer.shutdown()
    except Exception:
        pass
    emit("done", sent=args.count - failures, failed=failures)
    return EXIT_OK if failures == 0 else EXIT_FAIL


def scenario_transaction(args):
    if not WRAPPER["transaction"] or not C_API["SendMessageTransaction"]:
        unsupported("transaction", "this wheel has no TransactionMQProducer / SendMessageTransaction")
    status = {"commit": rmq.TransactionStatus.COMMIT, "rollback": rmq.TransactionStatus.ROLLBACK,
              "unknown": rmq.TransactionStatus.UNKNOWN}

    def on_check(msg):
        emit("check", msgId=msg.id, keys=_s(msg.keys) or "",
             seq=int(_s(msg.get_property("compat_seq")) or -1), result=args.check)
        return status[args.check]

    def on_execute(msg, user_args):
        return status[args.tx]

    producer = rmq.TransactionMQProducer(args.group, on_check, timeout=args.send_timeout_ms,
                                         max_message_size=MAX_MESSAGE_SIZE)
    producer.set_namesrv_addr(args.namesrv)
    if has_symbol("SetProducerLogLevel"):
        dll.SetProducerLogLevel(producer._handle, LOG_LEVEL_ERROR)
    producer.start()
    emit("ready", role="transaction-producer", group=args.group)
    failures = 0
    for i in range(args.count):
        s = Spec(args, args.seq_start + i)
        try:
            res = producer.send_message_in_transaction(s.to_c(args.topic), on_execute)
            emit("sent", msgId=res.msg_id, status="SEND_OK" if int(res.status) == 0 else str(res.status),
                 queueOffset=res.offset, queueId=None, mode="transaction", transaction=args.tx, via="wrapper",
                 **s.fields())
        except Exception as e:
            failures += 1
            msg = str(e) or last_error()
            emit("send_error", seq=s.seq, kind=classify(msg), message=msg, mode="transaction")
    if args.wait_checks > 0:
        time.sleep(args.wait_checks)
    try:
        producer.shutdown()
    except Exception:
        pass
    emit("done", sent=args.count - failures, failed=failures)
    return EXIT_OK if failures == 0 else EXIT_FAIL


class Collector(object):
    """Counts deliveries; `wait` returns when --expect deliveries came and --idle passed quietly."""

    def __init__(self, args):
        self.args = args
        self.count = 0
        self.last = time.time()
        self.cv = threading.Condition()

    def add(self, fields):
        emit("received", **fields)
        with self.cv:
            self.count += 1
            self.last = time.time()
            self.cv.notify_all()

    def wait(self):
        a = self.args
        deadline = time.time() + a.timeout - 1.0
        with self.cv:
            while time.time() < deadline:
                enough = self.count >= a.expect
                if enough and time.time() - self.last >= a.idle:
                    return True
                self.cv.wait(timeout=0.2)
        return self.count >= a.expect


def scenario_consume(args):
    model = rmq.MessageModel.BROADCASTING if args.model == "broadcasting" else rmq.MessageModel.CLUSTERING
    consumer = rmq.PushConsumer(args.group, orderly=args.orderly, message_model=model)
    consumer.set_namesrv_addr(args.namesrv)
    if args.instance:
        consumer.set_instance_name(args.instance)
    if has_symbol("SetPushConsumerLogLevel"):
        dll.SetPushConsumerLogLevel(consumer._handle, LOG_LEVEL_ERROR)
    consumer.set_thread_count(2)
    col = Collector(args)
    later = args.reconsume_later == "all"

    # Registered through the C API: the wrappers turn a callback's return value into
    # CONSUME_SUCCESS / re-raise, so RECONSUME_LATER is not reliably expressible through them.
    def on_message(_consumer, handle):
        try:
            col.add(describe_ext(handle))
        except Exception as e:  # never let an exception cross into C++
            emit("error", stage="callback", message=repr(e))
        return 1 if later else 0

    cb = MSG_CB(on_message)
    consumer._callback_refs.append(cb)
    if dll.Subscribe(consumer._handle, args.topic.encode(), args.subscribe.encode()) != 0:
        emit("error", stage="subscribe", message=last_error())
        finish(EXIT_FAIL)
    register = dll.RegisterMessageCallbackOrderly if args.orderly else dll.RegisterMessageCallback
    if register(consumer._handle, cb) != 0:
        emit("error", stage="register", message=last_error())
        finish(EXIT_FAIL)
    try:
        consumer.start()
    except Exception as e:
        msg = str(e) or last_error()
        emit("error", stage="start", kind=classify(msg), message=msg)
        finish(EXIT_FAIL)
    # maxReconsumeTimes is not settable through the C API: the C++ default (16) applies.
    emit("ready", role="push-consumer", group=args.group, model=args.model, orderly=args.orderly,
         maxReconsumeTimes=16)
    ok = col.wait()
    try:
        consumer.shutdown()  # persists the consumed offsets to the broker (clustering)
    except Exception as e:
        emit("error", stage="shutdown", message=str(e))
    emit("done", received=col.count)
    return EXIT_OK if ok else EXIT_FAIL


def scenario_pull(args):
    """Pull every queue of the topic from offset 0 until no new message (C API; the cpp044 wrapper's
    PullConsumer does the same loop but keeps offsets in a class-level dict)."""
    if not C_API["CreatePullConsumer"] or not C_API["Pull"]:
        unsupported("pull", "no pull consumer in this librocketmq.so")
    c = dll.CreatePullConsumer(args.group.encode())
    dll.SetPullConsumerNameServerAddress(c, args.namesrv.encode())
    if has_symbol("SetPullConsumerLogLevel"):
        dll.SetPullConsumerLogLevel(c, LOG_LEVEL_ERROR)
    if dll.StartPullConsumer(c) != 0:
        msg = last_error()
        emit("error", stage="start", kind=classify(msg), message=msg)
        finish(EXIT_FAIL)
    mqs = POINTER(CMessageQueue)()
    size = c_int()
    rc = dll.FetchSubscriptionMessageQueues(c, args.topic.encode(), ctypes.byref(mqs), ctypes.byref(size))
    if rc != 0:
        msg = last_error()
        emit("error", stage="fetch_queues", kind=classify(msg), message=msg)
        finish(EXIT_FAIL)
    emit("ready", role="pull-consumer", group=args.group, queues=size.value)
    col = Collector(args)
    deadline = time.time() + args.timeout - 1.0
    pending = {i: 0 for i in range(size.value)}
    while pending and time.time() < deadline:
        for i in list(pending):
            mq = mqs[i]
            res = dll.Pull(c, ctypes.byref(mq), args.subscribe.encode(), pending[i], 32)
            if res.pullStatus == 0:  # FOUND
                for j in range(res.size):
                    f = describe_ext(res.msgFoundList[j])
                    col.add(f)
                pending[i] = res.nextBeginOffset
            elif res.pullStatus in (1, 2):  # NO_NEW_MSG, NO_MATCHED_MSG
                if res.pullStatus == 2 and res.nextBeginOffset > pending[i]:
                    pending[i] = res.nextBeginOffset
                else:
                    del pending[i]
            elif res.pullStatus == 3:  # OFFSET_ILLEGAL
                pending[i] = res.nextBeginOffset
            else:  # BROKER_TIMEOUT: retry
                time.sleep(0.2)
            dll.ReleasePullResult(res)
        if args.expect and col.count >= args.expect and not pending:
            break
    dll.ReleaseSubscriptionMessageQueue(mqs)
    dll.ShutdownPullConsumer(c)
    emit("done", received=col.count, queues=size.value)
    return EXIT_OK if col.count >= args.expect else EXIT_FAIL


def scenario_info(_args):
    emit("info", package=PACKAGE, wrapper=WRAPPER, c_api=C_API)
    return EXIT_OK


def main(argv):
    args = parse_args(argv)
    start_watchdog(args.timeout)
    emit("start", scenario=args.scenario, package=PACKAGE, pid=os.getpid())
    fn = {"send": scenario_send, "transaction": scenario_transaction, "consume": scenario_consume,
          "pull": scenario_pull, "info": scenario_info}[args.scenario]
    try:
        code = fn(args)
    except Exception as e:
        msg = str(e) or last_error()
        emit("error", stage=args.scenario, kind=classify(msg), message=msg)
        code = EXIT_FAIL
    finish(code)


if __name__ == "__main__":
    main(sys.argv[1:])
