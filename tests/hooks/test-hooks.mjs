// On-publish hooks end to end: a real starlingd, a real HTTP hook server
// in this process, MQTT.js publishers and subscribers.
//
// The hook server verifies every request on its own: Node's WebCrypto
// imports the broker's JWKs from GET …/publickeys and checks
// X-Signature-Ed25519 over X-Signature-Timestamp + body, with the key named
// by X-Signature-Key-Id. Each broker gets its own path on the server, and
// each path its own behaviour: pass, change, drop, delay, 500, garbage.
//
// Run by meson (suite hooks) with STARLINGD and STARLING_SRCDIR set.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const WAIT_MS = 15000;
const srcdir = process.env.STARLING_SRCDIR ?? join(import.meta.dirname, '..', '..');
const require = createRequire(join(srcdir, 'tests', 'clients', 'node', 'package.json'));
const mqtt = require('mqtt');

// ---- helpers ---------------------------------------------------------------

async function until(what, cond, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond())
      return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

let daemon = null;      // { proc, dir, mqttPort, api, token, account }
let hook = null;        // { server, url, behaviours, requests }

async function startDaemon() {
  const starlingd = process.env.STARLINGD;
  if (!starlingd)
    throw new Error('STARLINGD is not set (meson\'s test_env sets it)');
  const dir = mkdtempSync(join(tmpdir(), 'starling-hooks-'));
  const dataDir = join(dir, 'data');
  const readyFile = join(dir, 'ready.json');
  const proc = spawn(starlingd, [
    '--data-dir', dataDir, '--ready-file', readyFile,
    '--mqtt', '127.0.0.1:0', '--mqtts', 'off', '--ws', 'off', '--wss', 'off',
    '--api', '127.0.0.1:0', '--threads', '2', '--log-level', 'info',
    // The order test routes 10,000 messages in bursts of a batch: this test
    // is about the hook, not the session queue bound.
    '--max-queued-messages', '20000',
  ], { stdio: ['ignore', process.stderr, process.stderr] });
  let exited = null;
  proc.on('exit', (code, signal) => { exited = { code, signal }; });
  let ready = null;
  await until('the ready file', () => {
    if (exited)
      throw new Error(`starlingd exited early: ${JSON.stringify(exited)}`);
    if (!existsSync(readyFile))
      return false;
    try {
      ready = JSON.parse(readFileSync(readyFile, 'utf8'));
      return ready.listeners?.mqtt?.port && ready.listeners?.api?.port;
    } catch {
      return false;
    }
  });
  const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const api = `http://127.0.0.1:${ready.listeners.api.port}/client/v4`;
  const d = { proc, dir, mqttPort: ready.listeners.mqtt.port, api, token, exited: () => exited };
  const m = await call(d, 'GET', '/memberships');
  d.account = m.result[0].account.id;
  return d;
}

async function call(d, method, path, body) {
  const res = await fetch(d.api + path, {
    method,
    headers: { Authorization: `Bearer ${d.token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const json = await res.json();
  json.status = res.status;
  return json;
}

const ns = () => `/accounts/${daemon.account}/pubsub/namespaces/hooks`;

async function makeBroker(name, onPublish) {
  const r = await call(daemon, 'POST', `${ns()}/brokers`,
                       { name, on_publish: onPublish ?? null });
  assert.equal(r.status, 200, JSON.stringify(r.errors));
  return r.result;
}

async function credential(broker, clientId) {
  const r = await call(daemon, 'GET', `${ns()}/brokers/${broker}/credentials?clientid=${clientId}`);
  assert.equal(r.status, 200, JSON.stringify(r.errors));
  return r.result[clientId];
}

async function publicKeys(broker) {
  const r = await call(daemon, 'GET', `${ns()}/brokers/${broker}/publickeys`);
  assert.equal(r.status, 200);
  return r.result.keys;
}

const clients = [];

async function connect(broker, clientId, opts = {}) {
  const password = await credential(broker, clientId);
  const c = mqtt.connect(`mqtt://127.0.0.1:${daemon.mqttPort}`, {
    clientId, username: 'x', password, protocolVersion: 5, reconnectPeriod: 0,
    connectTimeout: WAIT_MS, ...opts,
  });
  clients.push(c);
  await new Promise((resolve, reject) => {
    c.once('connect', resolve);
    c.once('error', reject);
  });
  c.received = [];
  c.on('message', (topic, payload, packet) => c.received.push({ topic, payload, packet }));
  // MQTT.js reports 0x10 as plain success: keep the last PUBACK/PUBREC to
  // read its reason code (for QoS 2 the callback comes with the PUBCOMP,
  // after its PUBREC).
  c.on('packetreceive', (packet) => {
    if (packet.cmd === 'puback' || packet.cmd === 'pubrec')
      c.lastAck = packet;
  });
  return c;
}

function subscribe(c, filter, qos = 1) {
  return new Promise((resolve, reject) =>
    c.subscribe(filter, { qos }, (err, granted) => err ? reject(err) : resolve(granted)));
}

// Resolves with the PUBACK/PUBREC reason code (MQTT.js turns >= 0x80 into
// an error carrying it); QoS 0 resolves once written, with 0. Meant for one
// publish at a time per client (the order test only checks for errors).
function publish(c, topic, payload, opts = {}) {
  const qos = opts.qos ?? 1;
  return new Promise((resolve) =>
    c.publish(topic, payload, { qos, ...opts }, (err) =>
      resolve(err ? err.code : qos === 0 ? 0 : (c.lastAck?.reasonCode ?? 0))));
}

// ---- the hook server -------------------------------------------------------

const keyCache = new Map();   // kid -> CryptoKey

async function verify(req, body) {
  const sig = req.headers['x-signature-ed25519'];
  const ts = req.headers['x-signature-timestamp'];
  const kid = req.headers['x-signature-key-id'];
  const broker = req.url.slice(1).split('/')[0];
  if (!sig || !ts || !kid)
    return false;
  if (!keyCache.has(kid)) {
    for (const jwk of await publicKeys(broker))
      keyCache.set(jwk.kid, await crypto.subtle.importKey('jwk', jwk, { name: 'Ed25519' }, false, ['verify']));
  }
  const key = keyCache.get(kid);
  if (!key)
    return false;
  return crypto.subtle.verify({ name: 'Ed25519' }, key, Buffer.from(sig, 'base64'),
                             Buffer.concat([Buffer.from(ts), body]));
}

function startHookServer() {
  const h = { behaviours: new Map(), requests: [], active: new Map(), maxActive: new Map() };
  h.server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req)
      chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const path = req.url.slice(1).split('/')[0];
    const record = { path, headers: req.headers, method: req.method, body, verified: false, at: Date.now(),
                     port: req.socket.remotePort };
    h.requests.push(record);
    h.active.set(path, (h.active.get(path) ?? 0) + 1);
    h.maxActive.set(path, Math.max(h.maxActive.get(path) ?? 0, h.active.get(path)));
    res.on('close', () => h.active.set(path, h.active.get(path) - 1));
    try {
      record.verified = await verify(req, body);
      record.messages = JSON.parse(body.toString('utf8'));
    } catch (e) {
      record.error = String(e);
    }
    const behave = h.behaviours.get(path);
    if (!behave) {
      res.writeHead(404).end();
      return;
    }
    if (!record.verified) {
      res.writeHead(403).end('not a valid Broker request');
      return;
    }
    await behave(record, req, res);
  });
  return new Promise((resolve) => h.server.listen(0, '127.0.0.1', () => {
    h.url = (path) => `http://127.0.0.1:${h.server.address().port}/${path}`;
    resolve(h);
  }));
}

function answer(res, messages, status = 200) {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(messages));
}

const pass = (record, req, res) => answer(res, record.messages);

// ---- setup -----------------------------------------------------------------

before(async () => {
  hook = await startHookServer();
  daemon = await startDaemon();
  const r = await call(daemon, 'POST', `/accounts/${daemon.account}/pubsub/namespaces`, { name: 'hooks' });
  assert.equal(r.status, 200);
});

after(async () => {
  for (const c of clients)
    c.end(true);
  if (daemon) {
    daemon.proc.kill('SIGTERM');
    const deadline = Date.now() + 10000;
    while (!daemon.exited() && Date.now() < deadline)
      await sleep(20);
    if (!daemon.exited())
      daemon.proc.kill('SIGKILL');
    rmSync(daemon.dir, { recursive: true, force: true });
  }
  hook?.server.closeAllConnections();
  hook?.server.close();
});

// ---- tests -----------------------------------------------------------------

test('API: on_publish settings are checked, stored, merged on PATCH and shown with counters', async () => {
  const bad = [
    [{ url: 'ftp://x' }, 10104],
    [{ url: hook.url('x'), timeout: 'soon' }, 10101],
    [{ url: hook.url('x'), timeout: 0 }, 10104],
    [{ url: hook.url('x'), timeout: 301 }, 10104],
    [{ url: hook.url('x'), failure: 'retry' }, 10104],
    [{ url: hook.url('x'), silent_drops: 'yes' }, 10101],
    [{ url: hook.url('x'), concurrency: 0 }, 10104],
    [{ url: hook.url('x'), concurrency: 1.5 }, 10101],
    [{ timeout: 5 }, 10103],
  ];
  for (const [onPublish, code] of bad) {
    const r = await call(daemon, 'POST', `${ns()}/brokers`, { name: 'settings', on_publish: onPublish });
    assert.equal(r.status, 400, JSON.stringify(onPublish));
    assert.equal(r.errors[0].code, code, `${JSON.stringify(onPublish)}: ${r.errors[0].message}`);
  }

  const b = await makeBroker('settings', { url: hook.url('settings') });
  assert.deepEqual({ ...b.on_publish, stats: undefined },
                   { url: hook.url('settings'), timeout: 10, failure: 'drop', silent_drops: false,
                     concurrency: 4, stats: undefined });
  assert.equal(b.on_publish.stats.sent, 0);
  assert.equal(b.on_publish.stats.last_error, null);

  let r = await call(daemon, 'PATCH', `${ns()}/brokers/settings`,
                     { on_publish: { url: hook.url('settings'), timeout: 2.5, failure: 'deliver', silent_drops: true, concurrency: 2 } });
  assert.equal(r.status, 200);
  // wrangler's --on-publish-url sends the url alone: the rest stays.
  r = await call(daemon, 'PATCH', `${ns()}/brokers/settings`, { on_publish: { url: hook.url('other') } });
  assert.equal(r.status, 200);
  assert.equal(r.result.on_publish.url, hook.url('other'));
  assert.equal(r.result.on_publish.timeout, 2.5);
  assert.equal(r.result.on_publish.failure, 'deliver');
  assert.equal(r.result.on_publish.silent_drops, true);
  assert.equal(r.result.on_publish.concurrency, 2);
  r = await call(daemon, 'PATCH', `${ns()}/brokers/settings`, { on_publish: { failure: 'nope' } });
  assert.equal(r.status, 400);
  assert.equal(r.errors[0].code, 10104);
  r = await call(daemon, 'GET', `${ns()}/brokers/settings`);
  assert.equal(r.result.on_publish.failure, 'deliver', 'a refused PATCH changes nothing');
  r = await call(daemon, 'PATCH', `${ns()}/brokers/settings`, { on_publish: null });
  assert.equal(r.result.on_publish, null);
});

test('pass: every request is signed by a key of publickeys, messages arrive unchanged, PUBACK 0x00', async () => {
  hook.behaviours.set('pass', pass);
  await makeBroker('pass', { url: hook.url('pass') });
  const sub = await connect('pass', 'pass-sub');
  await subscribe(sub, '#');
  const pub = await connect('pass', 'pass-pub');
  const before = hook.requests.length;

  assert.equal(await publish(pub, 'a/text', 'hello', { properties: { payloadFormatIndicator: true, contentType: 'text/plain' } }), 0);
  assert.equal(await publish(pub, 'a/bin', Buffer.from([0, 1, 2, 255])), 0);
  assert.equal(await publish(pub, 'a/zero', 'qos0', { qos: 0 }), 0);
  await until('3 deliveries', () => sub.received.length === 3);

  assert.deepEqual(sub.received.map((m) => m.topic), ['a/text', 'a/bin', 'a/zero']);
  assert.equal(sub.received[0].payload.toString(), 'hello');
  assert.equal(sub.received[0].packet.properties.contentType, 'text/plain');
  assert.deepEqual([...sub.received[1].payload], [0, 1, 2, 255]);

  const reqs = hook.requests.slice(before).filter((r) => r.path === 'pass');
  assert.ok(reqs.length >= 1);
  const keys = await publicKeys('pass');
  for (const r of reqs) {
    assert.equal(r.method, 'POST');
    assert.equal(r.verified, true, 'signature verifies with the JWK of publickeys');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.ok(keys.some((k) => k.kid === r.headers['x-signature-key-id']));
    assert.match(r.headers['x-signature-timestamp'], /^\d+$/);
    assert.ok(Math.abs(Number(r.headers['x-signature-timestamp']) - Date.now() / 1000) < 60);
  }
  const msgs = reqs.flatMap((r) => r.messages);
  assert.equal(msgs.length, 3);
  const [t, b] = msgs;
  assert.equal(typeof t.mid, 'number');
  assert.ok(b.mid > t.mid);
  assert.equal(t.broker, 'pass');
  assert.equal(t.namespace, 'hooks');
  assert.equal(t.topic, 'a/text');
  assert.equal(t.clientId, 'pass-pub');
  assert.equal(typeof t.jti, 'string');
  assert.ok(Math.abs(t.receivedAt - Date.now() / 1000) < 60, 'receivedAt is Unix seconds');
  assert.equal(t.contentType, 'text/plain');
  assert.equal(t.payloadFormatIndicator, 1);
  assert.equal(t.payload, 'hello', 'UTF-8 text when the indicator is 1');
  assert.equal(b.payloadFormatIndicator, 0);
  assert.equal(b.contentType, '');
  assert.equal(b.payload, Buffer.from([0, 1, 2, 255]).toString('base64'), 'base64 otherwise');
});

test('change: payload, contentType and payloadFormatIndicator are delivered as the hook changed them', async () => {
  hook.behaviours.set('change', (record, req, res) => answer(res, record.messages.map((m) => {
    if (m.topic === 'c/text')
      return { ...m, payload: m.payload.toUpperCase(), contentType: 'text/shout' };
    if (m.topic === 'c/bin')
      return { ...m, payload: 'now text', payloadFormatIndicator: 1 };
    if (m.topic === 'c/tobin')
      return { ...m, payload: Buffer.from([9, 8, 7]).toString('base64'), payloadFormatIndicator: 0, contentType: null };
    return m;
  })));
  await makeBroker('change', { url: hook.url('change') });
  const sub = await connect('change', 'change-sub');
  await subscribe(sub, 'c/#');
  const pub = await connect('change', 'change-pub');

  assert.equal(await publish(pub, 'c/text', 'quiet', { properties: { payloadFormatIndicator: true } }), 0);
  assert.equal(await publish(pub, 'c/bin', Buffer.from([1, 2])), 0);
  assert.equal(await publish(pub, 'c/tobin', 'abc', { properties: { payloadFormatIndicator: true, contentType: 'text/plain' } }), 0);
  assert.equal(await publish(pub, 'c/same', 'same'), 0);
  await until('4 deliveries', () => sub.received.length === 4);
  const [a, b, c, d] = sub.received;
  assert.equal(a.payload.toString(), 'QUIET');
  assert.equal(a.packet.properties.contentType, 'text/shout');
  assert.equal(a.packet.properties.payloadFormatIndicator, true);
  assert.equal(b.payload.toString(), 'now text');
  assert.equal(b.packet.properties.payloadFormatIndicator, true);
  assert.deepEqual([...c.payload], [9, 8, 7]);
  assert.equal(c.packet.properties?.contentType, undefined);
  assert.equal(d.payload.toString(), 'same');

  const r = await call(daemon, 'GET', `${ns()}/brokers/change`);
  assert.equal(r.result.on_publish.stats.sent, 4);
  assert.equal(r.result.on_publish.stats.delivered, 4);
  assert.equal(r.result.on_publish.stats.changed, 3);
  assert.equal(r.result.on_publish.stats.dropped, 0);

  // A will is published through the hook too: no way around it.
  const dying = await connect('change', 'change-will', {
    will: { topic: 'c/text', payload: 'last words', qos: 1, properties: { payloadFormatIndicator: true } },
  });
  dying.stream.destroy();
  await until('the will', () => sub.received.length === 5);
  assert.equal(sub.received[4].payload.toString(), 'LAST WORDS');
  const last = hook.requests.filter((q) => q.path === 'change').at(-1);
  assert.equal(last.messages[0].clientId, 'change-will');
});

test('drop: left out, topic changed or unknown mid is not delivered; PUBACK/PUBREC 0x83, 0x00 with silent_drops', async () => {
  hook.behaviours.set('drop', (record, req, res) => answer(res, [
    ...record.messages.filter((m) => m.topic.startsWith('keep/')),
    ...record.messages.filter((m) => m.topic.startsWith('retopic/')).map((m) => ({ ...m, topic: 'keep/sneaky' })),
    ...record.messages.filter((m) => m.topic.startsWith('nomid/')).map((m) => ({ ...m, mid: m.mid + 1000000 })),
  ]));
  await makeBroker('drop', { url: hook.url('drop') });
  const sub = await connect('drop', 'drop-sub');
  await subscribe(sub, '#');
  const pub = await connect('drop', 'drop-pub');

  assert.equal(await publish(pub, 'gone/1', 'x'), 0x83);
  assert.equal(await publish(pub, 'retopic/1', 'x'), 0x83);
  assert.equal(await publish(pub, 'nomid/1', 'x'), 0x83);
  assert.equal(await publish(pub, 'gone/2', 'x', { qos: 2 }), 0x83, 'PUBREC 0x83 ends the QoS 2 flow');
  assert.equal(await publish(pub, 'keep/1', 'kept', { qos: 2 }), 0);
  assert.equal(await publish(pub, 'keep/2', 'kept'), 0);
  await until('2 deliveries', () => sub.received.length === 2);
  await sleep(300);
  assert.deepEqual(sub.received.map((m) => m.topic), ['keep/1', 'keep/2']);

  // MQTT 3.1.1 has no reason codes: a PUBACK all the same.
  const v3 = await connect('drop', 'drop-v3', { protocolVersion: 4 });
  assert.equal(await publish(v3, 'gone/3', 'x'), 0);

  const r = await call(daemon, 'PATCH', `${ns()}/brokers/drop`, { on_publish: { silent_drops: true } });
  assert.equal(r.status, 200);
  assert.equal(await publish(pub, 'gone/4', 'x'), 0, 'silent drops are acknowledged as success');
  assert.equal(await publish(pub, 'gone/5', 'x', { qos: 2 }), 0);
  await sleep(200);
  assert.deepEqual(sub.received.map((m) => m.topic), ['keep/1', 'keep/2']);

  const s = (await call(daemon, 'GET', `${ns()}/brokers/drop`)).result.on_publish.stats;
  assert.equal(s.sent, 9);
  assert.equal(s.delivered, 2);
  assert.equal(s.dropped, 7);
  assert.equal(s.failed, 0);
});

test('failures: 500, garbage, an object, 17 MiB and a hook slower than the timeout drop the batch (0x80), or deliver it with failure "deliver"', async () => {
  hook.behaviours.set('fail500', (record, req, res) => answer(res, record.messages, 500));
  hook.behaviours.set('garbage', (record, req, res) => res.writeHead(200).end('this is not { json'));
  hook.behaviours.set('object', (record, req, res) => answer(res, { messages: record.messages }));
  // Valid JSON, but far more than a hook could mean: not read past 16 MiB.
  hook.behaviours.set('huge', (record, req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.write(' '.repeat(17 * 1024 * 1024));
    res.end(JSON.stringify(record.messages));
  });
  hook.behaviours.set('slow', async (record, req, res) => {
    await sleep(1500);
    if (!res.destroyed)
      answer(res, record.messages);
  });
  const names = ['fail500', 'garbage', 'object', 'huge', 'slow'];
  for (const name of names)
    await makeBroker(name, { url: hook.url(name), timeout: name === 'huge' ? 10 : 0.4 });

  for (const name of names) {
    const sub = await connect(name, `${name}-sub`);
    await subscribe(sub, '#');
    const pub = await connect(name, `${name}-pub`);
    const t0 = Date.now();
    assert.equal(await publish(pub, 't/1', 'x'), 0x80, `${name}: dropped`);
    assert.ok(Date.now() - t0 < 5000);
    let r = await call(daemon, 'GET', `${ns()}/brokers/${name}`);
    assert.equal(r.result.on_publish.stats.failed, 1, name);
    assert.equal(r.result.on_publish.stats.dropped, 1, name);
    assert.equal(r.result.on_publish.stats.failed_requests, 1, name);
    assert.equal(typeof r.result.on_publish.stats.last_error, 'string', name);
    if (name === 'slow')
      assert.match(r.result.on_publish.stats.last_error, /no answer within 400 ms/);
    if (name === 'fail500')
      assert.match(r.result.on_publish.stats.last_error, /500/);
    if (name === 'huge')
      assert.match(r.result.on_publish.stats.last_error, /larger than 16777216 bytes/);

    r = await call(daemon, 'PATCH', `${ns()}/brokers/${name}`, { on_publish: { failure: 'deliver' } });
    assert.equal(r.status, 200);
    assert.equal(await publish(pub, 't/2', 'unchanged'), 0, `${name}: delivered on failure`);
    await until(`${name}: the delivery`, () => sub.received.length === 1);
    assert.equal(sub.received[0].topic, 't/2');
    assert.equal(sub.received[0].payload.toString(), 'unchanged');
  }
});

test('order under load: 10,000 messages from one publisher arrive in order through a hook answering out of order', async () => {
  // Random delays with 4 requests at once: later batches often answer first.
  hook.behaviours.set('order', async (record, req, res) => {
    await sleep(Math.random() * 15);
    answer(res, record.messages);
  });
  await makeBroker('order', { url: hook.url('order') });
  const sub = await connect('order', 'order-sub');
  await subscribe(sub, 'load/#');
  const pub = await connect('order', 'order-pub');
  const N = 10000;
  const acks = [];
  for (let i = 0; i < N; i++)
    acks.push(publish(pub, 'load/x', String(i), { qos: i % 2 }));
  const codes = await Promise.all(acks);
  assert.ok(codes.every((c) => c < 0x80), 'every PUBACK is a success');
  await until('10,000 deliveries', () => sub.received.length === N, 60000);
  for (let i = 0; i < N; i++)
    assert.equal(sub.received[i].payload.toString(), String(i), `message ${i} in order`);
  const reqs = hook.requests.filter((r) => r.path === 'order');
  assert.ok(reqs.length < N, `batched: ${reqs.length} requests for ${N} messages`);
  assert.ok(reqs.every((r) => r.verified));
  // The broker's concurrency (default 4) bounds requests at once, and
  // connections are kept alive: fewer connections than requests (Node
  // closes one idle for 5 s, so a slow run may need a few more than 4).
  assert.ok(hook.maxActive.get('order') <= 4, `at most 4 at once (saw ${hook.maxActive.get('order')})`);
  const sockets = new Set(reqs.map((r) => r.port)).size;
  assert.ok(sockets < reqs.length / 2, `${reqs.length} requests over ${sockets} connections`);
});

test('flow control: a 3.1.1 QoS 0 flood through a slow hook is read as the hook catches up; nothing lost, in order', async () => {
  // One request at a time, each taking a while: the publisher's backlog
  // passes the per-connection bound, so it is not read for a while (TCP
  // pushes back) and read again once the hook caught up.
  hook.behaviours.set('flood', async (record, req, res) => {
    await sleep(30);
    answer(res, record.messages);
  });
  await makeBroker('flood', { url: hook.url('flood'), concurrency: 1 });
  const sub = await connect('flood', 'flood-sub');
  await subscribe(sub, 'f/#', 0);
  const pub = await connect('flood', 'flood-pub', { protocolVersion: 4 });
  const N = 5000;
  const payload = 'x'.repeat(200);
  for (let i = 0; i < N; i++)
    pub.publish('f/x', `${i} ${payload}`, { qos: 0 });
  await until('5,000 deliveries', () => sub.received.length === N, 60000);
  for (let i = 0; i < N; i++)
    assert.equal(sub.received[i].payload.toString().split(' ')[0], String(i), `message ${i} in order`);
  const reqs = hook.requests.filter((r) => r.path === 'flood');
  assert.ok(reqs.length >= Math.ceil(N / 500), `${reqs.length} requests, at most 500 messages each`);
  assert.ok(reqs.every((r) => r.messages.length <= 500));
  const s = (await call(daemon, 'GET', `${ns()}/brokers/flood`)).result.on_publish.stats;
  assert.equal(s.sent, N);
  assert.equal(s.delivered, N);
  assert.equal(s.queued, 0);
  assert.equal(s.in_flight, 0);
});

test('removing the hook: messages already waiting for it pass unchanged, after the one in flight, in order', async () => {
  hook.behaviours.set('removal', async (record, req, res) => {
    await sleep(800);
    answer(res, record.messages.map((m) => ({ ...m, payload: m.payload.toUpperCase() })));
  });
  await makeBroker('removal', { url: hook.url('removal'), concurrency: 1 });
  const sub = await connect('removal', 'removal-sub');
  await subscribe(sub, '#');
  const pub = await connect('removal', 'removal-pub');
  const opts = { properties: { payloadFormatIndicator: true } };
  const acks = [publish(pub, 'm/1', 'one', opts)];
  await until('the first request', () => hook.requests.some((r) => r.path === 'removal'));
  // MQTT.js reads one reason code at a time: the rest at QoS 0.
  pub.publish('m/2', 'two', { qos: 0, ...opts });
  pub.publish('m/3', 'three', { qos: 0, ...opts });
  await sleep(100);
  const r = await call(daemon, 'PATCH', `${ns()}/brokers/removal`, { on_publish: null });
  assert.equal(r.result.on_publish, null);
  assert.equal(await acks[0], 0);
  await until('3 deliveries', () => sub.received.length === 3);
  assert.deepEqual(sub.received.map((m) => m.payload.toString()), ['ONE', 'two', 'three']);
  assert.equal(hook.requests.filter((r) => r.path === 'removal').length, 1);
  // and from now on, no hook at all
  assert.equal(await publish(pub, 'm/4', 'four'), 0);
  await until('4 deliveries', () => sub.received.length === 4);
  assert.equal(sub.received[3].payload.toString(), 'four');
});

test('key rotation: requests are then signed by the new key and still verify', async () => {
  hook.behaviours.set('rotate', pass);
  await makeBroker('rotate', { url: hook.url('rotate') });
  const sub = await connect('rotate', 'rotate-sub');
  await subscribe(sub, '#');
  const pub = await connect('rotate', 'rotate-pub');
  assert.equal(await publish(pub, 'r/1', 'before'), 0);
  const firstKid = hook.requests.filter((r) => r.path === 'rotate').at(-1).headers['x-signature-key-id'];

  const r = await call(daemon, 'POST', `${ns()}/brokers/rotate/keys/rotate`);
  assert.equal(r.status, 200);
  const newKid = r.result.kid;
  assert.notEqual(newKid, firstKid);
  assert.equal(await publish(pub, 'r/2', 'after'), 0);
  const last = hook.requests.filter((r) => r.path === 'rotate').at(-1);
  assert.equal(last.headers['x-signature-key-id'], newKid);
  assert.equal(last.verified, true);
  await until('2 deliveries', () => sub.received.length === 2);
});

test('a slow hook holds up only its own broker\'s publishes: not other brokers, nor the connection\'s subscribing and receiving', async () => {
  hook.behaviours.set('slowpoke', async (record, req, res) => {
    await sleep(4000);
    if (!res.destroyed)
      answer(res, record.messages);
  });
  hook.behaviours.set('quick', pass);
  // A retained message from before the hook: the slow broker's publisher
  // must still get it while its own publishes wait.
  await makeBroker('slowpoke');
  const early = await connect('slowpoke', 'slowpoke-early');
  assert.equal(await publish(early, 'ret/x', 'retained', { retain: true }), 0x10);
  let r = await call(daemon, 'PATCH', `${ns()}/brokers/slowpoke`, { on_publish: { url: hook.url('slowpoke') } });
  assert.equal(r.status, 200);
  await makeBroker('quick', { url: hook.url('quick') });

  // Keep alive 1 s: while its PUBLISH waits 4 s at the hook, its pings
  // must be answered, or MQTT.js (and the broker) would close it.
  const slowPub = await connect('slowpoke', 'slowpoke-pub', { keepalive: 1 });
  let slowClosed = false;
  slowPub.on('close', () => { slowClosed = true; });
  const quickSub = await connect('quick', 'quick-sub');
  await subscribe(quickSub, '#');
  const quickPub = await connect('quick', 'quick-pub');

  const t0 = Date.now();
  const slowAck = publish(slowPub, 's/1', 'slow');
  await sleep(100);
  assert.equal(await publish(quickPub, 'q/1', 'fast'), 0);
  await until('the quick broker\'s delivery', () => quickSub.received.length === 1, 2000);
  assert.ok(Date.now() - t0 < 2000, 'the other broker did not wait');

  const t1 = Date.now();
  await subscribe(slowPub, 'ret/#');
  await until('the retained message', () => slowPub.received.length === 1, 2000);
  assert.ok(Date.now() - t1 < 2000, 'SUBSCRIBE and deliveries did not wait for the hook');
  assert.equal(slowPub.received[0].payload.toString(), 'retained');

  assert.equal(await slowAck, 0x10, 'the slow hook\'s answer came, then the PUBACK');
  assert.ok(Date.now() - t0 >= 3500, 'the PUBACK waited for the hook');
  assert.equal(slowClosed, false, 'keep alive went on meanwhile');
  assert.ok(slowPub.connected);
});

// Cloudflare's "Integrate with Workers" guide: a Worker module whose fetch()
// checks the request with isValidBrokerRequest, hands the messages to a
// pubsub() function that rewrites text payloads and drops debug topics, and
// answers the JSON array. The guide imports isValidBrokerRequest from
// @cloudflare/pubsub, which is not on npm: this is one in the same spirit
// (Web APIs only: Request, crypto.subtle, TextEncoder).
async function isValidBrokerRequest(req, publicKeys) {
  if (req.method !== 'POST')
    return false;
  const signature = req.headers.get('X-Signature-Ed25519');
  const timestamp = req.headers.get('X-Signature-Timestamp');
  const keyId = req.headers.get('X-Signature-Key-Id');
  if (signature === null || timestamp === null || keyId === null)
    return false;
  const body = await req.clone().text();
  try {
    const jwk = JSON.parse(publicKeys).keys.find((k) => k.kid === keyId);
    if (!jwk)
      return false;
    const key = await crypto.subtle.importKey('jwk', jwk, { name: 'Ed25519' }, false, ['verify']);
    const sig = Uint8Array.from(atob(signature), (c) => c.charCodeAt(0));
    return await crypto.subtle.verify({ name: 'Ed25519' }, key, sig, new TextEncoder().encode(timestamp + body));
  } catch {
    return false;
  }
}

async function pubsub(messages, env, ctx) {
  const outgoing = [];
  for (const msg of messages) {
    if (msg.topic.startsWith('debug/'))
      continue;
    if (msg.payloadFormatIndicator === 1)
      msg.payload = `replaced text payload at ${Date.now()}`;
    outgoing.push(msg);
  }
  return outgoing;
}

const worker = {
  async fetch(req, env, ctx) {
    if (await isValidBrokerRequest(req, env.BROKER_PUBLIC_KEYS)) {
      const incoming = await req.json();
      const outgoing = await pubsub(incoming, env, ctx);
      return new Response(JSON.stringify(outgoing), { status: 200 });
    }
    return new Response('not a valid Broker request', { status: 403 });
  },
};

test('done when: Cloudflare\'s example Worker, served locally, filters and rewrites a starlingd broker\'s messages', async () => {
  await makeBroker('worker');
  const env = { BROKER_PUBLIC_KEYS: JSON.stringify({ keys: await publicKeys('worker') }) };
  let valid = 0, invalid = 0;
  // A Workers-like runtime in miniature: Node's request in, a WHATWG Request
  // to the module's fetch(), its Response out.
  const runtime = createServer(async (nreq, nres) => {
    const chunks = [];
    for await (const chunk of nreq)
      chunks.push(chunk);
    const request = new Request(`http://${nreq.headers.host}${nreq.url}`, {
      method: nreq.method, headers: nreq.headers, body: Buffer.concat(chunks),
    });
    const response = await worker.fetch(request, env, { waitUntil() {} });
    response.status === 200 ? valid++ : invalid++;
    nres.writeHead(response.status, Object.fromEntries(response.headers));
    nres.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise((resolve) => runtime.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${runtime.address().port}/`;
    const r = await call(daemon, 'PATCH', `${ns()}/brokers/worker`, { on_publish: { url } });
    assert.equal(r.status, 200);
    const sub = await connect('worker', 'worker-sub');
    await subscribe(sub, '#');
    const pub = await connect('worker', 'worker-pub');
    assert.equal(await publish(pub, 'test/topic', 'original', { properties: { payloadFormatIndicator: true } }), 0);
    assert.equal(await publish(pub, 'debug/noise', 'chatter', { properties: { payloadFormatIndicator: true } }), 0x83);
    assert.equal(await publish(pub, 'sensors/raw', Buffer.from([1, 2, 3])), 0);
    await until('2 deliveries', () => sub.received.length === 2);
    await sleep(200);
    assert.deepEqual(sub.received.map((m) => m.topic), ['test/topic', 'sensors/raw']);
    assert.match(sub.received[0].payload.toString(), /^replaced text payload at \d+$/);
    assert.deepEqual([...sub.received[1].payload], [1, 2, 3], 'binary payloads pass untouched');
    assert.ok(valid >= 3 || valid >= 1);
    assert.equal(invalid, 0, 'every request passed isValidBrokerRequest');
  } finally {
    runtime.closeAllConnections();
    runtime.close();
  }
});

// Last: the daemon stops cleanly with a request still in flight (it is
// cancelled, its messages stay unacknowledged). Under ASan/UBSan a leak or
// an error at exit shows as a non-zero status here.
test('starlingd stops cleanly on SIGTERM with a hook request in flight', async () => {
  hook.behaviours.set('inflight', async (record, req, res) => {
    await sleep(3000);
    if (!res.destroyed)
      answer(res, record.messages);
  });
  await makeBroker('inflight', { url: hook.url('inflight') });
  const pub = await connect('inflight', 'inflight-pub');
  const before = hook.requests.length;
  const acked = publish(pub, 'x/1', 'never acknowledged');
  await until('the request', () => hook.requests.slice(before).some((r) => r.path === 'inflight'));
  const d = daemon;
  daemon = null;
  d.proc.kill('SIGTERM');
  await until('starlingd to exit', () => d.exited() !== null, 20000);
  assert.deepEqual(d.exited(), { code: 0, signal: null });
  rmSync(d.dir, { recursive: true, force: true });
  const code = await Promise.race([acked, sleep(200).then(() => 'no ack')]);
  assert.equal(code, 'no ack', 'what the hook did not decide was not acknowledged');
});
