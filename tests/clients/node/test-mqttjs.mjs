// MQTT.js against a real `starlingd --dev`, over TCP, TLS, WebSocket and
// secure WebSocket, at MQTT 5 and 3.1.1.
//
// Run from this folder: node --test --test-reporter=tap test-mqttjs.mjs
// (meson does that with STARLINGD set).  node_modules comes from
// `npm ci --prefix tests/clients/node`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const WAIT_MS = 10000;

let mqtt = null;
let importError = null;
try {
  mqtt = (await import('mqtt')).default;
} catch (e) {
  importError = e;
}

if (importError) {
  // Fail, don't skip: a missing install must not look like a green run.
  test('MQTT.js is installed', () => {
    assert.fail('cannot load the "mqtt" package: node_modules is missing or broken; ' +
                'run `npm ci --prefix tests/clients/node` (' + importError.message + ')');
  });
} else {
  defineTests();
}

function readyPort(json, name) {
  const port = json?.listeners?.[name]?.port;
  return Number.isInteger(port) && port > 0 ? port : null;
}

async function startBroker() {
  const starlingd = process.env.STARLINGD;
  if (!starlingd)
    throw new Error('STARLINGD is not set (meson\'s test_env sets it)');
  const dir = mkdtempSync(join(tmpdir(), 'starling-mqttjs-'));
  const dataDir = join(dir, 'data');
  const readyFile = join(dir, 'ready.json');
  // stdout would corrupt the TAP stream: send it to our stderr.
  const proc = spawn(starlingd, [
    '--dev', '--data-dir', dataDir,
    '--mqtt', '127.0.0.1:0', '--mqtts', '127.0.0.1:0',
    '--ws', '127.0.0.1:0', '--wss', '127.0.0.1:0',
    '--threads', '2', '--ready-file', readyFile,
  ], { stdio: ['ignore', process.stderr, process.stderr] });
  let exited = null;
  proc.on('exit', (code, signal) => { exited = { code, signal }; });

  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    if (exited)
      break;
    if (existsSync(readyFile)) {
      try {
        const json = JSON.parse(readFileSync(readyFile, 'utf8'));
        const ports = {
          mqtt: readyPort(json, 'mqtt'), mqtts: readyPort(json, 'mqtts'),
          ws: readyPort(json, 'ws'), wss: readyPort(json, 'wss'),
        };
        if (ports.mqtt && ports.mqtts && ports.ws && ports.wss) {
          return {
            proc, dir, ports,
            ca: readFileSync(join(dataDir, 'tls', 'ca.pem')),
            exited: () => exited,
          };
        }
      } catch (e) {
        // Half-written file: try again.
      }
    }
    await sleep(20);
  }
  proc.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  throw new Error('starlingd wrote no complete ready file within 10 s' +
                  (exited ? ` (it exited: ${JSON.stringify(exited)})` : ''));
}

async function stopBroker(b) {
  if (!b)
    return null;
  let status = b.exited();
  if (!status) {
    const done = new Promise((resolve) => b.proc.once('exit', (code, signal) => resolve({ code, signal })));
    b.proc.kill('SIGTERM');
    status = await Promise.race([done, sleep(5000).then(() => null)]);
    if (!status) {
      b.proc.kill('SIGKILL');
      await done;
    }
  }
  rmSync(b.dir, { recursive: true, force: true });
  return status;
}

// Resolves with the first n messages on client, or rejects after WAIT_MS.
function collect(client, n, what = 'messages') {
  const got = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.removeListener('message', onMessage);
      reject(new Error(`only ${got.length} of ${n} ${what} arrived within ${WAIT_MS} ms`));
    }, WAIT_MS);
    function onMessage(topic, payload, packet) {
      got.push({ topic, payload, packet });
      if (got.length === n) {
        clearTimeout(timer);
        client.removeListener('message', onMessage);
        resolve(got);
      }
    }
    client.on('message', onMessage);
  });
}

function defineTests() {
  let broker = null;

  before(async () => {
    broker = await startBroker();
  });

  after(async () => {
    const alive = broker && !broker.exited();
    const status = await stopBroker(broker);
    if (broker) {
      assert.ok(alive, 'starlingd died during the tests');
      assert.deepEqual(status, { code: 0, signal: null },
                       'starlingd did not exit cleanly on SIGTERM');
    }
  });

  const transports = {
    tcp: () => ({ url: `mqtt://127.0.0.1:${broker.ports.mqtt}`, opts: {} }),
    mqtts: () => ({
      url: `mqtts://127.0.0.1:${broker.ports.mqtts}`,
      opts: { ca: broker.ca, servername: 'localhost', rejectUnauthorized: true },
    }),
    ws: () => ({ url: `ws://127.0.0.1:${broker.ports.ws}/mqtt`, opts: {} }),
    // The server certificate names localhost and 127.0.0.1; verify against
    // the daemon's local CA only.
    wss: () => ({
      url: `wss://127.0.0.1:${broker.ports.wss}/mqtt`,
      opts: { ca: broker.ca, servername: 'localhost', rejectUnauthorized: true },
    }),
  };

  const open = [];

  async function connect(transport, version, extra = {}) {
    const { url, opts } = transports[transport]();
    const client = await mqtt.connectAsync(url, {
      protocolVersion: version,
      reconnectPeriod: 0,          // a failure must surface, not be retried
      connectTimeout: WAIT_MS,
      clean: true,
      ...opts,
      ...extra,
    });
    open.push(client);
    return client;
  }

  async function closeAll() {
    for (const c of open.splice(0))
      c.end(true);
  }

  for (const transport of ['tcp', 'mqtts', 'ws', 'wss']) {
    for (const version of [5, 4]) {
      const tag = `${transport}/v${version}`;
      const base = `js/${transport}/v${version}`;

      test(`${tag}: subscribe, publish QoS 0/1/2, receive with payload and QoS`,
           { timeout: 30000 }, async () => {
        try {
          const sub = await connect(transport, version);
          const granted = await sub.subscribeAsync(`${base}/qos/#`, { qos: 2 });
          assert.equal(granted.length, 1);
          assert.equal(granted[0].qos, 2, 'SUBACK did not grant QoS 2');

          const pub = await connect(transport, version);
          const arriving = collect(sub, 3);
          for (const qos of [0, 1, 2])
            await pub.publishAsync(`${base}/qos/${qos}`, Buffer.from(`payload ${qos} \u00e9\u0000`), { qos });
          const msgs = await arriving;
          const byTopic = new Map(msgs.map((m) => [m.topic, m]));
          for (const qos of [0, 1, 2]) {
            const m = byTopic.get(`${base}/qos/${qos}`);
            assert.ok(m, `nothing arrived on ${base}/qos/${qos}`);
            assert.deepEqual(m.payload, Buffer.from(`payload ${qos} \u00e9\u0000`));
            assert.equal(m.packet.qos, qos);
            assert.equal(m.packet.retain, false);
          }
        } finally {
          await closeAll();
        }
      });

      if (version === 5) {
        test(`${tag}: user properties and content type arrive intact`,
             { timeout: 30000 }, async () => {
          try {
            const sub = await connect(transport, version);
            await sub.subscribeAsync(`${base}/props`, { qos: 1 });
            const pub = await connect(transport, version);
            const arriving = collect(sub, 1);
            const correlationData = Buffer.from([0, 1, 0xfe, 0xff]);
            await pub.publishAsync(`${base}/props`, '{"a":1}', {
              qos: 1,
              properties: {
                userProperties: { colour: ['blue', 'green'], size: '9' },
                contentType: 'application/json',
                responseTopic: `${base}/reply`,
                correlationData,
                payloadFormatIndicator: true,
              },
            });
            const [m] = await arriving;
            assert.equal(m.payload.toString(), '{"a":1}');
            const p = m.packet.properties ?? {};
            // MQTT.js builds this object without a prototype; compare its entries.
            assert.deepEqual({ ...p.userProperties }, { colour: ['blue', 'green'], size: '9' });
            assert.equal(p.contentType, 'application/json');
            assert.equal(p.responseTopic, `${base}/reply`);
            assert.deepEqual(p.correlationData, correlationData);
            assert.equal(p.payloadFormatIndicator, true);
          } finally {
            await closeAll();
          }
        });
      }

      test(`${tag}: retained message reaches a later subscriber; empty retained clears it`,
           { timeout: 30000 }, async () => {
        try {
          const topic = `${base}/retained`;
          const pub = await connect(transport, version);
          await pub.publishAsync(topic, 'kept', { qos: 1, retain: true });

          const late = await connect(transport, version);
          const first = collect(late, 1, 'retained messages');
          await late.subscribeAsync(topic, { qos: 1 });
          const [m] = await first;
          assert.equal(m.payload.toString(), 'kept');
          assert.equal(m.packet.retain, true);
          assert.equal(m.packet.qos, 1);

          await pub.publishAsync(topic, '', { qos: 1, retain: true });

          // A new subscriber's first message must be the live one sent after
          // its SUBACK, not the cleared retained one.
          const later = await connect(transport, version);
          const next = collect(later, 1);
          await later.subscribeAsync(topic, { qos: 1 });
          await pub.publishAsync(topic, 'live', { qos: 1 });
          const [l] = await next;
          assert.equal(l.payload.toString(), 'live');
          assert.equal(l.packet.retain, false);
        } finally {
          await closeAll();
        }
      });

      test(`${tag}: a connection dropped without DISCONNECT publishes the will`,
           { timeout: 30000 }, async () => {
        try {
          const topic = `${base}/abrupt`;
          const watcher = await connect(transport, version);
          await watcher.subscribeAsync(`${topic}/#`, { qos: 1 });
          const first = collect(watcher, 1, 'will messages');

          const dropper = await connect(transport, version, {
            will: { topic: `${topic}/gone`, payload: Buffer.from('dropped'), qos: 1 },
          });
          // Tear the transport down under MQTT.js: no DISCONNECT is sent.
          dropper.stream.destroy();

          const [m] = await first;
          assert.equal(m.topic, `${topic}/gone`);
          assert.equal(m.payload.toString(), 'dropped');
          assert.equal(m.packet.qos, 1);
        } finally {
          await closeAll();
        }
      });

      test(`${tag}: clean disconnect ends the connection and discards the will`,
           { timeout: 30000 }, async () => {
        try {
          const topic = `${base}/will`;
          const watcher = await connect(transport, version);
          await watcher.subscribeAsync(`${topic}/#`, { qos: 1 });
          const first = collect(watcher, 1);

          const leaver = await connect(transport, version, {
            will: { topic: `${topic}/gone`, payload: Buffer.from('must not be sent'), qos: 1 },
          });
          assert.equal(leaver.connected, true);
          await leaver.endAsync();
          assert.equal(leaver.connected, false);
          assert.equal(leaver.disconnected, true);

          // A wrongly sent will would be due at once; then the sentinel.
          await sleep(300);
          await watcher.publishAsync(`${topic}/sentinel`, 'sentinel', { qos: 1 });
          const [m] = await first;
          assert.equal(m.topic, `${topic}/sentinel`);
        } finally {
          await closeAll();
        }
      });
    }
  }

  test('tls: a client that trusts another CA is refused', { timeout: 30000 }, async () => {
    const url = `mqtts://127.0.0.1:${broker.ports.mqtts}`;
    // Any CA but the daemon's: the system bundle cannot have signed it.
    await assert.rejects(mqtt.connectAsync(url, {
      protocolVersion: 5, reconnectPeriod: 0, connectTimeout: WAIT_MS,
      servername: 'localhost', rejectUnauthorized: true,
    }), (e) => {
      assert.match(String(e?.code ?? e?.message), /CERT|SELF_SIGNED|ISSUER|VERIFY|SIGNATURE|certificate/i);
      return true;
    });
  });
}
