#!/usr/bin/env node
'use strict';
/**
 * Driver for ali-ons (npm, pure JavaScript RocketMQ remoting client).
 *
 *   NODE_PATH=<cache>/node/node_modules node driver.js SCENARIO --namesrv 127.0.0.1:PORT --topic T [options]
 *
 * Same command line and JSON-lines output as the other drivers (compat-tests/clients/README.md).
 * ali-ons is pointed at the name server with its `nameSrv` option (otherwise it asks an HTTP
 * address server, `onsAddr`); the `httpclient` it insists on is a stub that throws if used.
 * Exit codes: 0 ok, 1 failure, 2 unsupported, 3 timeout.
 */
const crypto = require('crypto');
const ons = require('ali-ons');

const CLIENT = 'ali-ons';
const PACKAGE = `ali-ons@${require('ali-ons/package.json').version}`;
const EXIT_OK = 0, EXIT_FAIL = 1, EXIT_UNSUPPORTED = 2, EXIT_TIMEOUT = 3;

function emit(event, fields) {
  const obj = Object.assign({ event, client: CLIENT }, fields || {});
  const sorted = {};
  for (const k of Object.keys(obj).sort()) sorted[k] = obj[k] === undefined ? null : obj[k];
  process.stdout.write(JSON.stringify(sorted) + '\n');
}

function finish(code) {
  // Let stdout drain, then leave even if client timers are still armed.
  process.stdout.write('', () => process.exit(code));
}

function parseArgs(argv) {
  const a = {
    scenario: argv[0], namesrv: '', topic: '', group: '', count: 1, mode: 'sync', tags: '', bodySize: 64,
    shardingKeys: 0, delayLevel: 0, runId: 'r', seqStart: 0, tx: 'commit', check: 'commit', waitChecks: 0,
    model: 'clustering', subscribe: '*', orderly: false, expect: 0, idle: 2.0, timeout: 30.0,
    reconsumeLater: 'none', maxReconsumeTimes: -1, instance: '', sendTimeoutMs: 3000,
  };
  const numeric = new Set([ 'count', 'bodySize', 'shardingKeys', 'delayLevel', 'seqStart', 'waitChecks', 'expect',
    'idle', 'timeout', 'maxReconsumeTimes', 'sendTimeoutMs' ]);
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const key = arg.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in a)) throw new Error(`unknown option ${arg}`);
    if (key === 'orderly') { a.orderly = true; continue; }
    const v = argv[++i];
    if (v === undefined) throw new Error(`${arg} needs a value`);
    a[key] = numeric.has(key) ? Number(v) : v;
  }
  const scenarios = [ 'send', 'transaction', 'consume', 'pull', 'info' ];
  if (!scenarios.includes(a.scenario)) throw new Error(`scenario must be one of ${scenarios.join(', ')}`);
  if (a.scenario !== 'info') {
    if (!a.namesrv || !a.topic) throw new Error('--namesrv and --topic are required');
    const host = a.namesrv.split(';')[0].replace(/:\d+$/, '');
    if (!(host.startsWith('127.') || host === 'localhost')) {
      throw new Error(`refusing a name server that is not on the loopback interface: ${a.namesrv}`);
    }
  }
  if (!a.group) a.group = `compat_${CLIENT.replace('-', '_')}_${a.scenario}`;
  return a;
}

const FILL = Buffer.from('RocketMQ-compat-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ\n');

function makeBody(run, seq, size) {
  const head = Buffer.from(`${run}:${CLIENT}:${seq}:`);
  if (size <= head.length) return head.subarray(0, Math.max(size, 1));
  const out = Buffer.alloc(size);
  head.copy(out, 0);
  for (let pos = head.length; pos < size; pos += FILL.length) FILL.copy(out, pos, 0, Math.min(FILL.length, size - pos));
  return out;
}

const sha256 = b => crypto.createHash('sha256').update(b).digest('hex');

function classify(message) {
  const m = String(message).toLowerCase();
  if (m.includes('no publish router data') || m.includes('no topic route info') || m.includes('topic not exist') || m.includes('no route info') ||
      m.includes('topic_not_exist') || m.includes('not exist value') || m.includes('code: 17')) return 'no_route';
  if ((m.includes('econnrefused') || m.includes('connect')) && m.includes(NAMESRV)) return 'namesrv_unreachable';
  if (m.includes('timeout')) return 'timeout';
  if (m.includes('econnrefused') || m.includes('connect')) return 'connect_failed';
  return 'other';
}

let NAMESRV = '';

function specOf(a, seq) {
  const tags = a.tags.split(',').filter(Boolean);
  const s = {
    seq,
    body: makeBody(a.runId, seq, a.bodySize),
    tag: tags.length ? tags[seq % tags.length] : '',
    keys: `k-${a.runId}-${seq}`,
    sk: a.shardingKeys > 0 ? `sk-${seq % a.shardingKeys}` : '',
    delay: a.delayLevel,
  };
  s.fields = () => ({
    seq: s.seq, bodySha256: sha256(s.body), bodyLen: s.body.length, tags: s.tag, keys: s.keys,
    shardingKey: s.sk || null, delayLevel: s.delay || null,
  });
  return s;
}

function toMessage(a, s) {
  const msg = s.tag ? new ons.Message(a.topic, s.tag, s.body) : new ons.Message(a.topic, s.body);
  msg.keys = [ s.keys ];
  msg.properties.compat_seq = String(s.seq);
  msg.properties.compat_run = a.runId;
  msg.properties.compat_client = CLIENT;
  if (s.sk) {
    msg.properties.compat_sk = s.sk;
    msg.shardingKey = s.sk; // ali-ons picks the queue by md5(shardingKey) over the queue ids
  }
  if (s.delay) msg.delayTimeLevel = s.delay;
  return msg;
}

const RECV_PROPS = [ 'compat_seq', 'compat_run', 'compat_client', 'compat_sk', 'DELAY', 'RETRY_TOPIC',
  'ORIGIN_MESSAGE_ID', 'TRAN_MSG', 'UNIQ_KEY', 'REAL_TOPIC', 'REAL_QID', 'PGROUP' ];

function describe(msg) {
  const props = {};
  for (const k of RECV_PROPS) if (msg.properties && msg.properties[k]) props[k] = msg.properties[k];
  const body = msg.body || Buffer.alloc(0);
  return {
    msgId: msg.msgId, topic: msg.topic, queueId: msg.queueId, queueOffset: Number(msg.queueOffset),
    bodySha256: sha256(body), bodyLen: body.length, tags: msg.tags || '', keys: Array.isArray(msg.keys) ? msg.keys.join(' ') : (msg.keys || ''),
    properties: props, reconsumeTimes: msg.reconsumeTimes, bornTimestamp: Number(msg.bornTimestamp),
    storeTimestamp: Number(msg.storeTimestamp), receivedAt: Date.now(),
  };
}

const httpclient = {
  // Never used: nameSrv is given. Fail loudly if ali-ons ever tries the address server.
  request() { throw new Error('compat driver: HTTP name-server lookup attempted'); },
};

const quietLogger = {
  info() {}, debug() {},
  warn(...args) { process.stderr.write(`[ali-ons warn] ${args.map(String).join(' ')}\n`); },
  error(...args) { process.stderr.write(`[ali-ons error] ${args.map(x => (x && x.stack) || String(x)).join(' ')}\n`); },
};

function baseOptions(a) {
  return {
    httpclient, nameSrv: a.namesrv, logger: quietLogger, accessKeyId: 'compat', accessKeySecret: 'compat',
    onsAddr: undefined, instanceName: a.instance || `${process.pid}`,
  };
}

async function scenarioSend(a) {
  if (a.mode === 'oneway' || a.mode === 'batch') {
    emit('unsupported', { feature: `send_${a.mode}`, reason: 'ali-ons Producer has only send()' });
    return EXIT_UNSUPPORTED;
  }
  const producer = new ons.Producer(Object.assign(baseOptions(a), {
    producerGroup: a.group, sendMsgTimeout: a.sendTimeoutMs, maxMessageSize: 4 * 1024 * 1024,
  }));
  producer.on('error', err => process.stderr.write(`[producer error] ${err && err.message}\n`));
  await producer.ready();
  emit('ready', { role: 'producer', group: a.group });
  const specs = [];
  for (let i = 0; i < a.count; i++) specs.push(specOf(a, a.seqStart + i));
  let failures = 0;
  const sendOne = async s => {
    try {
      const r = await producer.send(toMessage(a, s));
      emit('sent', Object.assign({
        msgId: r.msgId, status: r.sendStatus, queueOffset: r.queueOffset,
        queueId: r.messageQueue ? r.messageQueue.queueId : null, mode: a.mode, via: 'api',
      }, s.fields()));
    } catch (err) {
      failures++;
      emit('send_error', { seq: s.seq, kind: classify(err.message), message: err.message, mode: a.mode });
    }
  };
  if (a.mode === 'async') {
    // JavaScript's asynchronous send: every send() in flight at once.
    await Promise.all(specs.map(sendOne));
  } else {
    // sync, and orderly (sequential sends with a sharding key)
    for (const s of specs) {
      await sendOne(s);
      if (a.count > 1 && failures >= 3) break;
    }
  }
  await closeQuietly(producer);
  emit('done', { sent: a.count - failures, failed: failures });
  return failures === 0 ? EXIT_OK : EXIT_FAIL;
}

async function closeQuietly(x) {
  try {
    await Promise.race([ x.close(), new Promise(r => setTimeout(r, 3000)) ]);
  } catch (err) {
    process.stderr.write(`[close] ${err && err.message}\n`);
  }
}

async function scenarioConsume(a) {
  if (a.orderly) {
    emit('unsupported', { feature: 'consume_orderly', reason: 'ali-ons has no orderly (queue-locking) consumer' });
    return EXIT_UNSUPPORTED;
  }
  const opts = Object.assign(baseOptions(a), {
    consumerGroup: a.group, isBroadcast: a.model === 'broadcasting', persistConsumerOffsetInterval: 1000,
    rebalanceInterval: 2000,
  });
  if (a.maxReconsumeTimes >= 0) opts.maxReconsumeTimes = a.maxReconsumeTimes;
  const consumer = new ons.Consumer(opts);
  let count = 0;
  let last = Date.now();
  consumer.on('error', err => process.stderr.write(`[consumer error] ${err && err.message}\n`));
  const later = a.reconsumeLater === 'all';
  consumer.subscribe(a.topic, a.subscribe === '*' ? '*' : a.subscribe, async msg => {
    emit('received', describe(msg));
    count++;
    last = Date.now();
    return later ? ons.Consumer.ACTION_RETRY : undefined;
  });
  await consumer.ready();
  emit('ready', { role: 'push-consumer', group: a.group, model: a.model, orderly: false,
    maxReconsumeTimes: consumer.options.maxReconsumeTimes });
  const deadline = Date.now() + a.timeout * 1000 - 1500;
  while (Date.now() < deadline) {
    if (count >= a.expect && Date.now() - last >= a.idle * 1000) break;
    await new Promise(r => setTimeout(r, 100));
  }
  const ok = count >= a.expect;
  await closeQuietly(consumer); // persists the consumed offsets (clustering: to the broker)
  emit('done', { received: count });
  return ok ? EXIT_OK : EXIT_FAIL;
}

async function main() {
  let a;
  try {
    a = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`usage: driver.js SCENARIO --namesrv ADDR --topic T [options]\n${err.message}\n`);
    return finish(EXIT_UNSUPPORTED);
  }
  NAMESRV = a.namesrv;
  const timer = setTimeout(() => { emit('timeout', { seconds: a.timeout }); finish(EXIT_TIMEOUT); }, a.timeout * 1000);
  timer.unref();
  emit('start', { scenario: a.scenario, package: PACKAGE, pid: process.pid });
  let code;
  try {
    switch (a.scenario) {
      case 'info':
        emit('info', { package: PACKAGE, features: {
          send_sync: true, send_async: true, send_oneway: false, send_batch: false, orderly_by_sharding_key: true,
          transaction: false, push_consumer: true, broadcasting: true, orderly_consumer: false, pull_consumer: false,
          max_reconsume_times: true,
        } });
        code = EXIT_OK;
        break;
      case 'send': code = await scenarioSend(a); break;
      case 'consume': code = await scenarioConsume(a); break;
      case 'transaction':
        emit('unsupported', { feature: 'transaction', reason: 'ali-ons has no transactional producer' });
        code = EXIT_UNSUPPORTED;
        break;
      case 'pull':
        emit('unsupported', { feature: 'pull', reason: 'ali-ons has only a push consumer' });
        code = EXIT_UNSUPPORTED;
        break;
      default: code = EXIT_UNSUPPORTED;
    }
  } catch (err) {
    emit('error', { stage: a.scenario, kind: classify(err.message), message: err.message });
    code = EXIT_FAIL;
  }
  finish(code);
}

process.on('unhandledRejection', err => process.stderr.write(`[unhandledRejection] ${err && err.stack}\n`));
main();
