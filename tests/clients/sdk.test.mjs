// The real Segment and RudderStack server SDKs, pinned in package.json, against a running
// `cdpctl serve` (started by tests/sdk_clients_test.sh): identify, track, page, screen and alias
// from three sources (ingest keys for web, ios and pos), then the merged profile read back over
// HTTP with a personalization key. Each SDK talks to cdp through a recording proxy, so the tests
// also pin down what the SDK sends: the path, the auth header, gzip or not.
//
// Environment: CDP_BASE_URL (http://127.0.0.1:PORT), CDP_KEY_WEB, CDP_KEY_IOS, CDP_KEY_POS
// (ingest keys with --source web/ios/pos), CDP_KEY_PERSONALIZATION.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, before, test } from 'node:test';
import zlib from 'node:zlib';

import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';

const base = process.env.CDP_BASE_URL;
const keys = {
    web: process.env.CDP_KEY_WEB,
    ios: process.env.CDP_KEY_IOS,
    pos: process.env.CDP_KEY_POS,
    personalization: process.env.CDP_KEY_PERSONALIZATION,
};
for (const [name, value] of Object.entries({ CDP_BASE_URL: base, ...keys }))
    if (!value) throw new Error(`sdk.test.mjs: ${name} is not set (run tests/sdk_clients_test.sh)`);

// Identifiers unique to this run, so the file can run twice against one server.
const run = randomUUID().slice(0, 8);

// ---- a recording proxy between the SDKs and cdp ----------------------------------------------

// Forwards every request to cdp unchanged and records method, path, headers, the decoded body
// and cdp's answer.
function startRecorder() {
    const requests = [];
    const target = new URL(base);
    const server = http.createServer((request, response) => {
        const chunks = [];
        request.on('data', (chunk) => chunks.push(chunk));
        request.on('end', () => {
            const body = Buffer.concat(chunks);
            const entry = { method: request.method, path: request.url, headers: request.headers };
            try {
                const text = request.headers['content-encoding'] === 'gzip'
                    ? zlib.gunzipSync(body).toString('utf8') : body.toString('utf8');
                entry.json = JSON.parse(text);
            } catch (error) {
                entry.json = null;
            }
            requests.push(entry);
            const headers = { ...request.headers, host: target.host, 'content-length': body.length };
            delete headers['transfer-encoding'];
            delete headers.connection;
            const upstream = http.request(
                { host: target.hostname, port: target.port, path: request.url, method: request.method, headers },
                (answer) => {
                    const answerChunks = [];
                    answer.on('data', (chunk) => answerChunks.push(chunk));
                    answer.on('end', () => {
                        const answerBody = Buffer.concat(answerChunks);
                        entry.status = answer.statusCode;
                        entry.answer = answerBody.toString('utf8');
                        const answerHeaders = { ...answer.headers, 'content-length': answerBody.length };
                        delete answerHeaders['transfer-encoding'];
                        delete answerHeaders.connection;
                        response.writeHead(answer.statusCode, answerHeaders);
                        response.end(answerBody);
                    });
                });
            upstream.on('error', (error) => {
                entry.status = 502;
                entry.answer = String(error);
                response.writeHead(502);
                response.end();
            });
            upstream.end(body);
        });
    });
    return new Promise((resolve) => {
        server.listen(0, '127.0.0.1', () => {
            resolve({
                url: `http://127.0.0.1:${server.address().port}`,
                requests,
                close: () => new Promise((done) => server.close(done)),
            });
        });
    });
}

let recorder;
before(async () => {
    recorder = await startRecorder();
});
after(async () => {
    await recorder.close();
});

// The requests recorded while fn ran.
async function recording(fn) {
    const start = recorder.requests.length;
    await fn();
    return recorder.requests.slice(start);
}

// ---- reading back over HTTP ------------------------------------------------------------------

async function read(ref, suffix = '') {
    const response = await fetch(`${base}/v1/profiles/${encodeURIComponent(ref)}${suffix}`, {
        headers: {
            Authorization: `Bearer ${keys.personalization}`,
            'X-CDP-Purpose': 'personalization',
        },
    });
    const text = await response.text();
    assert.equal(response.status, 200, `GET /v1/profiles/${ref}${suffix}: ${response.status} ${text}`);
    return JSON.parse(text);
}

async function identities(ref) {
    const answer = await read(ref, '/identities');
    return new Set(answer.identities.map((identity) => `${identity.type}:${identity.value}`));
}

function assertHasAll(set, wanted, what) {
    const missing = wanted.filter((item) => !set.has(item));
    assert.deepEqual(missing, [], `${what}: missing ${missing.join(', ')}; have ${[...set].join(', ')}`);
}

function basicUser(headers) {
    const match = /^Basic (.+)$/.exec(headers.authorization || '');
    assert.ok(match, `Authorization is not Basic: ${headers.authorization}`);
    return Buffer.from(match[1], 'base64').toString('utf8');
}

// ---- the SDKs --------------------------------------------------------------------------------

function segmentClient(source) {
    const client = new SegmentAnalytics({
        writeKey: keys[source],
        host: recorder.url, // path: the SDK's default, /v1/batch
        flushAt: 50,
        flushInterval: 200,
        maxRetries: 1,
    });
    client.errors = [];
    client.on('error', (error) => client.errors.push(error));
    return client;
}

// Sends what fn enqueues and waits until the SDK has delivered it; fails on any delivery error.
async function segmentSend(source, fn) {
    const client = segmentClient(source);
    fn(client);
    await client.closeAndFlush({ timeout: 10000 });
    assert.deepEqual(client.errors.map(String), [], `analytics-node (${source}) reported errors`);
}

function rudderClient(source) {
    const errors = [];
    const client = new RudderAnalytics(keys[source], {
        dataPlaneUrl: recorder.url,
        flushAt: 50,
        flushInterval: 200,
        retryCount: 1,
        timeout: 10000,
        logLevel: 'error',
        errorHandler: (error) => errors.push(error),
    });
    client.errors = errors;
    return client;
}

async function rudderSend(source, fn) {
    const client = rudderClient(source);
    fn(client);
    // The first message goes out at once; flush() waits for it and sends the rest.
    await client.flush();
    await client.flush();
    assert.deepEqual(client.errors.map(String), [], `rudder-sdk-node (${source}) reported errors`);
}

// One person's life across the three sources, as both SDKs can express it: browses the web
// anonymously, signs in, orders; opens the iOS app (device id) and the app aliases its anonymous
// id to the user id; buys in a store where the POS knows a phone number and its own customer id.
function person(prefix) {
    const id = `${prefix}-${run}`;
    return {
        userId: `user-${id}`,
        anonWeb: `anon-web-${id}`,
        anonIos: `anon-ios-${id}`,
        device: `device-${id}`,
        posId: `pos-${id}`,
        email: `${prefix}.${run}@Shop.Example`,
    };
}

function webCalls(client, p) {
    client.page({ anonymousId: p.anonWeb, name: 'Home', properties: { path: '/' } });
    client.identify({
        userId: p.userId,
        anonymousId: p.anonWeb,
        traits: { email: p.email, first_name: 'Ada', plan: 'gold' },
    });
    client.track({
        userId: p.userId,
        event: 'Order Completed',
        properties: { order_id: `order-${p.userId}`, revenue: 42.5, currency: 'USD' },
    });
}

function iosCalls(client, p) {
    client.screen({ anonymousId: p.anonIos, name: 'Home', context: { device: { id: p.device } } });
    client.track({ anonymousId: p.anonIos, event: 'App Opened', context: { device: { id: p.device } } });
    client.alias({ previousId: p.anonIos, userId: p.userId });
}

function posCalls(client, p, phone) {
    client.identify({
        userId: p.userId,
        traits: { phone, first_name: 'Ada', loyalty_tier: 'silver' },
        context: { externalIds: [{ id: p.posId, type: 'pos_customer_id', collection: 'users', encoding: 'none' }] },
    });
}

async function assertMergedPerson(p, phoneE164) {
    const ref = `user_id:${p.userId}`;
    const profile = await read(ref);
    assert.equal(profile.region, 'us');
    assert.equal(profile.traits.first_name, 'Ada');
    assert.equal(profile.traits.plan, 'gold');
    assert.equal(profile.traits.loyalty_tier, 'silver');
    assert.equal(profile.traits.email, p.email);
    for (const channel of ['web', 'ios', 'pos'])
        assert.ok(profile.channels?.[channel], `no ${channel} channel in ${JSON.stringify(profile.channels)}`);
    assert.equal(profile.channels.web.events, 3, 'web: page, identify, track');
    assert.equal(profile.channels.ios.events, 3, 'ios: screen, track, alias');
    assert.equal(profile.channels.pos.events, 1, 'pos: identify');
    assertHasAll(await identities(ref), [
        `user_id:${p.userId}`,
        `anonymous_id:${p.anonWeb}`,
        `anonymous_id:${p.anonIos}`,
        `device_id:${p.device}`,
        `pos_customer_id:${p.posId}`,
        `email:${p.email.toLowerCase()}`,
        `phone:${phoneE164}`,
    ], 'identities');
    // Every identifier leads to the same profile.
    for (const other of [`email:${p.email.toLowerCase()}`, `anonymous_id:${p.anonIos}`,
        `pos_customer_id:${p.posId}`, `phone:${phoneE164}`])
        assert.equal((await read(other)).profile_id, profile.profile_id, `${other} is another profile`);
    const events = (await read(ref, '/events?limit=50')).events;
    assert.equal(events.length, 7, `events: ${events.map((event) => event.type).join(', ')}`);
    const kinds = new Set(events.map((event) => `${event.type}/${event.channel}`));
    assertHasAll(kinds, ['page/web', 'identify/web', 'track/web', 'screen/ios', 'track/ios',
        'alias/ios', 'identify/pos'], 'events');
    return profile;
}

// ---- Segment: @segment/analytics-node -------------------------------------------------------

test('analytics-node: web, ios and pos calls merge into one profile', async () => {
    const p = person('seg');
    const sent = await recording(async () => {
        await segmentSend('web', (client) => webCalls(client, p));
        await segmentSend('ios', (client) => iosCalls(client, p));
        await segmentSend('pos', (client) => posCalls(client, p, '(415) 555-2671'));
    });
    assert.ok(sent.length >= 3, `${sent.length} requests`);
    for (const request of sent)
        assert.equal(request.status, 200, `${request.path}: ${request.status} ${request.answer}`);
    await assertMergedPerson(p, '+14155552671');
});

test('analytics-node: posts JSON to /v1/batch with the write key as Basic user name', async () => {
    const sent = await recording(() => segmentSend('web', (client) => {
        client.track({ anonymousId: `anon-wire-${run}`, event: 'Wire Checked' });
    }));
    assert.equal(sent.length, 1);
    const [request] = sent;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/v1/batch');
    assert.equal(basicUser(request.headers), `${keys.web}:`);
    assert.equal(request.headers['content-encoding'], undefined, 'analytics-node does not gzip');
    assert.equal(request.json.writeKey, keys.web, 'analytics-node also puts the write key in the body');
    assert.equal(request.json.batch[0].type, 'track');
    assert.equal(request.status, 200);
    assert.deepEqual(JSON.parse(request.answer), { success: true });
});

test('analytics-node: a key that may not ingest is a delivery failure the SDK reports', async () => {
    const client = new SegmentAnalytics({
        writeKey: keys.personalization, host: recorder.url, flushInterval: 200, maxRetries: 1,
    });
    const errors = [];
    client.on('error', (error) => errors.push(error));
    const sent = await recording(async () => {
        client.track({ anonymousId: `anon-denied-${run}`, event: 'Denied' });
        await client.closeAndFlush({ timeout: 10000 });
    });
    assert.deepEqual(sent.map((request) => request.status), [403], 'one try: 403 is not retried');
    assert.equal(JSON.parse(sent[0].answer).error.code, 'forbidden');
    assert.equal(errors.length, 1, 'the SDK reports the failed delivery');
});

test('analytics-node: a message sent twice with one messageId is stored once', async () => {
    const anonymousId = `anon-dup-seg-${run}`;
    const messageId = `dup-seg-${run}`;
    for (let i = 0; i < 2; i++)
        await segmentSend('web', (client) => client.track({ anonymousId, event: 'Retried', messageId }));
    const events = (await read(`anonymous_id:${anonymousId}`, '/events?limit=10')).events;
    assert.equal(events.length, 1);
    assert.equal(events[0].message_id, messageId);
});

// ---- RudderStack: @rudderstack/rudder-sdk-node ----------------------------------------------

test('rudder-sdk-node: web, ios and pos calls merge into one profile', async () => {
    const p = person('rud');
    const sent = await recording(async () => {
        await rudderSend('web', (client) => webCalls(client, p));
        await rudderSend('ios', (client) => iosCalls(client, p));
        await rudderSend('pos', (client) => posCalls(client, p, '415-555-2672'));
    });
    assert.ok(sent.length >= 3, `${sent.length} requests`);
    for (const request of sent)
        assert.equal(request.status, 200, `${request.path}: ${request.status} ${request.answer}`);
    const profile = await assertMergedPerson(p, '+14155552672');
    // RudderStack stamps channel "server" on every message; the ingest key's source wins.
    assert.equal(profile.channels.server, undefined);
});

test('rudder-sdk-node: posts gzip to /v1/batch with the write key as Basic user name', async () => {
    const sent = await recording(() => rudderSend('web', (client) => {
        client.track({ anonymousId: `anon-rwire-${run}`, event: 'Wire Checked' });
    }));
    assert.equal(sent.length, 1);
    const [request] = sent;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/v1/batch');
    assert.equal(basicUser(request.headers), `${keys.web}:`);
    assert.equal(request.headers['content-encoding'], 'gzip');
    assert.ok(request.json, 'body is valid gzip of JSON');
    assert.equal(request.json.batch[0].type, 'track');
    assert.ok(request.json.batch[0].originalTimestamp, 'RudderStack sends originalTimestamp');
    assert.equal(request.status, 200);
    assert.deepEqual(JSON.parse(request.answer), { success: true });
});

test('rudder-sdk-node: a message sent twice with one messageId is stored once', async () => {
    const anonymousId = `anon-dup-rud-${run}`;
    const messageId = `dup-rud-${run}`;
    for (let i = 0; i < 2; i++)
        await rudderSend('web', (client) => client.track({ anonymousId, event: 'Retried', messageId }));
    const events = (await read(`anonymous_id:${anonymousId}`, '/events?limit=10')).events;
    assert.equal(events.length, 1);
    assert.equal(events[0].message_id, messageId);
});

// ---- both SDKs, one person -------------------------------------------------------------------

test('one shopper seen by analytics-node on the web and rudder-sdk-node in store and app', async () => {
    const id = `mix-${run}`;
    const email = `Mixed.${run}@Shop.Example`;
    await segmentSend('web', (client) => client.identify({
        userId: `user-${id}`, anonymousId: `anon-web-${id}`, traits: { email, first_name: 'Kari' },
    }));
    // The till knows only the e-mail (typed in capitals) and its own customer id.
    await rudderSend('pos', (client) => client.identify({
        anonymousId: `till-${id}`,
        traits: { email: email.toUpperCase(), favourite_store: 'Oslo S' },
        context: { externalIds: [{ id: `pos-${id}`, type: 'pos_customer_id' }] },
    }));
    await rudderSend('ios', (client) => client.track({
        userId: `user-${id}`, event: 'Product Viewed', properties: { sku: 'SKU-1' },
    }));
    const ref = `user_id:user-${id}`;
    const profile = await read(ref);
    assert.equal(profile.traits.first_name, 'Kari');
    // favourite_store is in no category of policies/categories.json: "unclassified", which
    // personalization may not use until someone classifies it. Withheld, and counted.
    assert.equal(profile.traits.favourite_store, undefined);
    assert.ok(profile.withheld >= 1, `withheld ${profile.withheld}`);
    assert.deepEqual(Object.keys(profile.channels).sort(), ['ios', 'pos', 'web']);
    assertHasAll(await identities(ref), [`user_id:user-${id}`, `anonymous_id:anon-web-${id}`,
        `anonymous_id:till-${id}`, `pos_customer_id:pos-${id}`, `email:${email.toLowerCase()}`],
    'identities');
    assert.equal((await read(`pos_customer_id:pos-${id}`)).profile_id, profile.profile_id);
});
