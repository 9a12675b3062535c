// Cloudflare Pub/Sub's getting-started guide, end to end, against a real
// starlingd: through the HTTP control API create a namespace and a broker,
// issue two credentials with a 48 h expiry, connect two MQTT.js clients
// over TLS to the broker's endpoint hostname (trusting only the local CA,
// with hostname verification), subscribe with one and publish with the
// other, then revoke one token: that client is disconnected (0x87) and
// refused from then on, while the other keeps working.
//
// Run: node --test --test-reporter=tap getting-started.mjs, with STARLINGD
// set (meson's test_env does it).  MQTT.js comes from tests/clients/node
// (`npm ci --prefix tests/clients/node`).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';

const WAIT_MS = 10000;          // any single wait
const REVOKE_MS = 5000;         // revocation must disconnect within this
const NS = 'my-namespace';      // the guide's names
const BROKER = 'example-broker';
const PUBLIC_HOST = 'localhost';

let mqtt = null;
let importError = null;
try {
  const require = createRequire(new URL('../clients/node/package.json', import.meta.url));
  mqtt = require('mqtt');
} catch (e) {
  importError = e;
}

// ---- The daemon -------------------------------------------------------

function readyPort(json, name) {
  const port = json?.listeners?.[name]?.port;
  return Number.isInteger(port) && port > 0 ? port : null;
}

// dir: a previous daemon's, to start again on its data.
async function startDaemon(dir = null) {
  const starlingd = process.env.STARLINGD;
  if (!starlingd)
    throw new Error('STARLINGD is not set (meson\'s test_env sets it)');
  dir ??= mkdtempSync(join(tmpdir(), 'starling-e2e-'));
  const dataDir = join(dir, 'data');
  const readyFile = join(dir, 'ready.json');
  rmSync(readyFile, { force: true });
  // stdout would corrupt the TAP stream: send it to our stderr.
  const proc = spawn(starlingd, [
    '--data-dir', dataDir, '--ready-file', readyFile,
    '--mqtt', 'off', '--ws', 'off', '--wss', 'off',
    '--mqtts', '127.0.0.1:0', '--api', '127.0.0.1:0',
    '--public-host', PUBLIC_HOST, '--threads', '2',
  ], { stdio: ['ignore', process.stderr, process.stderr] });
  let exited = null;
  const exit = new Promise((resolve) => proc.once('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));
  const d = { proc, dir, dataDir, exit, exited: () => exited };

  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline && !exited) {
    if (existsSync(readyFile)) {
      try {
        const json = JSON.parse(readFileSync(readyFile, 'utf8'));
        d.mqtts = readyPort(json, 'mqtts');
        d.api = readyPort(json, 'api');
        if (d.mqtts && d.api)
          return d;
      } catch (e) {
        // Half-written file: try again.
      }
    }
    await sleep(20);
  }
  await stopDaemon(d);
  throw new Error('starlingd wrote no complete ready file within 10 s' +
                  (exited ? ` (it exited: ${JSON.stringify(exited)})` : ''));
}

// SIGTERM, then SIGKILL after 5 s; returns how it exited.  The data go
// too unless keep.
async function stopDaemon(d, { keep = false } = {}) {
  if (!d)
    return null;
  let status = d.exited();
  if (!status) {
    d.proc.kill('SIGTERM');
    status = await Promise.race([d.exit, sleep(5000).then(() => null)]);
    if (!status) {
      d.proc.kill('SIGKILL');
      await Promise.race([d.exit, sleep(5000)]);
    }
  }
  if (!keep)
    rmSync(d.dir, { recursive: true, force: true });
  return status;
}

// ---- The control API --------------------------------------------------

class Api {
  constructor(port, token) {
    this.base = `http://127.0.0.1:${port}/client/v4`;
    this.token = token;
  }

  async raw(method, path, body) {
    const res = await fetch(this.base + path, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(WAIT_MS),
    });
    return { status: res.status, text: await res.text() };
  }

  // The envelope's result, after checking it says success.
  async call(method, path, body) {
    const { status, text } = await this.raw(method, path, body);
    let json;
    try {
      json = JSON.parse(text);
    } catch (e) {
      assert.fail(`${method} ${path}: not JSON (${status}): ${text.slice(0, 200)}`);
    }
    assert.equal(json.success, true, `${method} ${path}: ${status} ${text}`);
    assert.equal(status, 200, `${method} ${path}: ${text}`);
    return json.result;
  }
}

// The API client of the daemon's data directory, and the account's prefix.
async function adminApi(d) {
  const token = readFileSync(join(d.dataDir, 'admin-token'), 'utf8').trim();
  const api = new Api(d.api, token);
  const memberships = await api.call('GET', '/memberships');
  const account = memberships?.[0]?.account?.id;
  assert.match(account ?? '', /^[0-9a-f]{32}$/, 'GET /memberships names the account');
  return { api, token, pubsub: `/accounts/${account}/pubsub` };
}

async function fetchCa({ api, token, pubsub }) {
  const res = await fetch(`${api.base}${pubsub}/ca`, {
    headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(WAIT_MS),
  });
  assert.equal(res.status, 200);
  const ca = await res.text();
  assert.match(ca, /^-----BEGIN CERTIFICATE-----/);
  return ca;
}

function jwtClaims(token) {
  const parts = token.split('.');
  assert.equal(parts.length, 3, 'a credential is a JWT');
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

// ---- MQTT over TLS to the endpoint hostname ---------------------------

// Every name resolves to 127.0.0.1, as /etc/hosts would do for a broker's
// hostname; the TLS layer still sends and verifies the real name.
function lookupLoopback(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  if (options?.all)
    callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else
    callback(null, '127.0.0.1', 4);
}

// A TLS handshake to hostname (SNI and verified name) trusting ca only;
// resolves once verified, rejects with the TLS error.
function tlsHandshake(port, hostname, ca) {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: hostname, port, servername: hostname, ca, rejectUnauthorized: true,
      lookup: lookupLoopback, timeout: WAIT_MS,
    });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      socket.destroy();
      resolve(cert);
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`TLS handshake with ${hostname}: nothing within ${WAIT_MS} ms`));
    });
    socket.once('error', (e) => {
      socket.destroy();
      reject(e);
    });
  });
}

function waitFor(emitter, event, ms, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.removeListener(event, on);
      reject(new Error(`${what}: nothing within ${ms} ms`));
    }, ms);
    function on(...args) {
      clearTimeout(timer);
      resolve(args);
    }
    emitter.once(event, on);
  });
}

// Resolves with the first message on client, or rejects after WAIT_MS.
function nextMessage(client, what) {
  return waitFor(client, 'message', WAIT_MS, what)
    .then(([topic, payload, packet]) => ({ topic, payload, packet }));
}

if (importError) {
  // Fail, don't skip: a missing install must not look like a green run.
  test('MQTT.js is installed', () => {
    assert.fail('cannot load the "mqtt" package from tests/clients/node: run ' +
                '`npm ci --prefix tests/clients/node` (' + importError.message + ')');
  });
} else {
  defineTests();
}

function defineTests() {
  let daemon = null;
  const open = [];

  before(async () => {
    daemon = await startDaemon();
  });

  after(async () => {
    for (const c of open.splice(0))
      c.end(true);
    const alive = daemon && !daemon.exited();
    const status = await stopDaemon(daemon);
    if (daemon) {
      assert.ok(alive, 'starlingd died during the test');
      assert.deepEqual(status, { code: 0, signal: null }, 'starlingd did not exit cleanly on SIGTERM');
    }
  });

  test('getting started: namespace, broker, two 48 h tokens, TLS by endpoint hostname, revocation',
       { timeout: 90000 }, async (t) => {
    const admin = await adminApi(daemon);
    const { api, pubsub } = admin;
    const brokerPath = `${pubsub}/namespaces/${NS}/brokers/${BROKER}`;

    // wrangler pubsub namespace create / broker create
    const ns = await api.call('POST', `${pubsub}/namespaces`, { name: NS });
    assert.equal(ns.name, NS);
    const broker = await api.call('POST', `${pubsub}/namespaces/${NS}/brokers`,
                                  { name: BROKER, description: 'the guide\'s broker' });
    assert.equal(broker.name, BROKER);
    assert.equal(broker.authType, 'TOKEN');
    // A second namespace, whose certificate must not pass for the first's.
    await api.call('POST', `${pubsub}/namespaces`, { name: 'other-namespace' });
    await api.call('POST', `${pubsub}/namespaces/other-namespace/brokers`, { name: BROKER });

    // The endpoint: this broker's hostname, the TLS listener's port.
    const endpoint = new URL(broker.endpoint);
    const host = `${BROKER}.${NS}.${PUBLIC_HOST}`;
    assert.equal(endpoint.protocol, 'mqtts:');
    assert.equal(endpoint.hostname, host);
    endpoint.port = String(daemon.mqtts);
    const url = `mqtts://${endpoint.hostname}:${endpoint.port}`;

    // The local CA, and nothing else, is trusted.
    const ca = await fetchCa(admin);

    // wrangler pubsub broker issue --number 2 --expiration 48h
    const creds = await api.call('GET', `${brokerPath}/credentials?number=2&type=TOKEN&expiration=172800`);
    const clientIds = Object.keys(creds);
    assert.equal(clientIds.length, 2, 'two credentials');
    const [subId, pubId] = clientIds;
    for (const id of clientIds) {
      const claims = jwtClaims(creds[id]);
      assert.equal(claims.sub, id, 'the key is the token\'s client id');
      assert.equal(claims.exp - claims.iat, 172800, '48 h expiry');
      assert.match(claims.jti ?? '', /^[0-9A-Z]{26}$/, 'a ULID jti');
    }

    const tlsOptions = {
      ca, rejectUnauthorized: true, lookup: lookupLoopback,
    };
    async function connect(clientId, extra = {}) {
      const client = await mqtt.connectAsync(url, {
        protocolVersion: 5, clientId, username: 'anything', password: creds[clientId],
        reconnectPeriod: 0, connectTimeout: WAIT_MS, clean: true,
        ...tlsOptions, ...extra,
      });
      open.push(client);
      return client;
    }

    await t.test('a wrong hostname does not verify', async () => {
      // Another namespace's broker: its certificate is genuine but names
      // *.other-namespace.localhost, not this broker.
      await assert.rejects(mqtt.connectAsync(`mqtts://${BROKER}.other-namespace.${PUBLIC_HOST}:${daemon.mqtts}`, {
        protocolVersion: 5, clientId: subId, username: 'anything', password: creds[subId],
        reconnectPeriod: 0, connectTimeout: WAIT_MS, ...tlsOptions,
        checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert),
      }), (e) => {
        assert.equal(e?.code, 'ERR_TLS_CERT_ALTNAME_INVALID', String(e));
        return true;
      });
      // A namespace that does not exist: the default certificate, which
      // covers no broker's hostname.
      await assert.rejects(mqtt.connectAsync(`mqtts://${BROKER}.no-such-namespace.${PUBLIC_HOST}:${daemon.mqtts}`, {
        protocolVersion: 5, clientId: subId, username: 'anything', password: creds[subId],
        reconnectPeriod: 0, connectTimeout: WAIT_MS, ...tlsOptions,
      }), (e) => {
        assert.equal(e?.code, 'ERR_TLS_CERT_ALTNAME_INVALID', String(e));
        return true;
      });
    });

    const sub = await connect(subId);
    const pub = await connect(pubId);
    // The handshake really verified this name against the local CA.
    assert.equal(sub.stream.authorized, true);
    assert.equal(sub.stream.servername, host);
    const peer = sub.stream.getPeerCertificate();
    assert.match(peer.subjectaltname, new RegExp(`DNS:\\*\\.${NS}\\.${PUBLIC_HOST}`));

    await t.test('subscribe with one, publish with the other', async () => {
      const granted = await sub.subscribeAsync('example-topic', { qos: 1 });
      assert.equal(granted[0].qos, 1);
      const arriving = nextMessage(sub, 'the published message');
      await pub.publishAsync('example-topic', 'Hello from MQTT.js', { qos: 1 });
      const m = await arriving;
      assert.equal(m.topic, 'example-topic');
      assert.equal(m.payload.toString(), 'Hello from MQTT.js');
    });

    await t.test('revoking a token disconnects its client and refuses it', async () => {
      const jti = jwtClaims(creds[pubId]).jti;
      const disconnected = waitFor(pub, 'disconnect', REVOKE_MS, 'DISCONNECT after revocation');
      const closed = waitFor(pub, 'close', REVOKE_MS, 'close after revocation');
      const revoked = await api.call('POST', `${brokerPath}/revocations?jti=${jti}`);
      assert.deepEqual(revoked, [jti]);
      const [packet] = await disconnected;
      assert.equal(packet.reasonCode, 0x87, 'DISCONNECT Not authorized');
      await closed;
      assert.equal(pub.connected, false);

      // Reconnecting with the revoked token: CONNACK 0x87.
      await assert.rejects(connect(pubId), (e) => {
        assert.equal(e?.code, 0x87, String(e));
        return true;
      });

      // The revocation list shows it; the other client is untouched.
      const list = await api.call('GET', `${brokerPath}/revocations`);
      assert.ok(list.includes(jti), 'the jti is listed as revoked');
      assert.equal(sub.connected, true);
      const arriving = nextMessage(sub, 'the message after the revocation');
      await sub.publishAsync('example-topic', 'still here', { qos: 1 });
      const m = await arriving;
      assert.equal(m.payload.toString(), 'still here');

      // The other token still opens new connections.
      await sub.endAsync();
      const again = await connect(subId);
      assert.equal(again.connected, true);
    });
  });

  test('namespace certificates: made on creation, gone on deletion, loaded again at start-up',
       { timeout: 60000 }, async () => {
    let admin = await adminApi(daemon);
    const ca = await fetchCa(admin);
    const nsDir = join(daemon.dataDir, 'tls', 'namespaces');
    const kept = 'kept-namespace', dropped = 'dropped-namespace';

    for (const name of [kept, dropped]) {
      await admin.api.call('POST', `${admin.pubsub}/namespaces`, { name });
      assert.ok(existsSync(join(nsDir, `${name}.pem`)), `${name}.pem exists once the API answered`);
      const cert = await tlsHandshake(daemon.mqtts, `b.${name}.${PUBLIC_HOST}`, ca);
      assert.match(cert.subjectaltname, new RegExp(`DNS:\\*\\.${name}\\.${PUBLIC_HOST}`));
    }

    await admin.api.call('DELETE', `${admin.pubsub}/namespaces/${dropped}`);
    assert.equal(existsSync(join(nsDir, `${dropped}.pem`)), false, 'the certificate file is gone');
    assert.equal(existsSync(join(nsDir, `${dropped}.key`)), false, 'the key file is gone');
    await assert.rejects(tlsHandshake(daemon.mqtts, `b.${dropped}.${PUBLIC_HOST}`, ca), (e) => {
      assert.equal(e?.code, 'ERR_TLS_CERT_ALTNAME_INVALID', String(e));
      return true;
    });

    // A restart on the same data: the remaining namespace's certificate
    // is loaded (not made again) before clients come.
    const pem = readFileSync(join(nsDir, `${kept}.pem`), 'utf8');
    const status = await stopDaemon(daemon, { keep: true });
    assert.deepEqual(status, { code: 0, signal: null }, 'starlingd did not exit cleanly on SIGTERM');
    daemon = await startDaemon(daemon.dir);
    await tlsHandshake(daemon.mqtts, `b.${kept}.${PUBLIC_HOST}`, ca);
    assert.equal(readFileSync(join(nsDir, `${kept}.pem`), 'utf8'), pem, 'the cached certificate is reused');
    admin = await adminApi(daemon);
    const names = (await admin.api.call('GET', `${admin.pubsub}/namespaces`)).map((n) => n.name);
    assert.ok(names.includes(kept) && !names.includes(dropped));
  });
}
