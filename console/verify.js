// Verifies a cdp audit export (JSON Lines) in the browser, as `cdpctl audit verify` does
// (cdp/audit/verify.c): RFC 6962 Merkle tree recomputed from the leaves (range mode) or each
// record's inclusion proof (filtered mode), every checkpoint's C2SP signed-note Ed25519
// signature, consistency with the final checkpoint, and the signed seal over a SHA-256 of the
// canonical JSON of every item. WebCrypto only (SHA-256, Ed25519): nothing is downloaded.

const enc = new TextEncoder();
const SIGNATURE_MARK = '\u2014 ';

export class VerifyError extends Error {
  constructor(line, seq, message) {
    super(line ? `line ${line}${seq >= 0 ? ` (seq ${seq})` : ''}: ${message}` : message);
    this.line = line;
    this.seq = seq;
  }
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function hexToBytes(hex) {
  if (typeof hex !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

function base64ToBytes(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function bytesToBase64(bytes) {
  let raw = '';
  for (const b of bytes) raw += String.fromCharCode(b);
  return btoa(raw);
}

const leafHash = (leaf) => sha256(concat(new Uint8Array([0]), leaf));
const nodeHash = (left, right) => sha256(concat(new Uint8Array([1]), left, right));

// The compact range of a tree: roots of its perfect subtrees, largest first.
class Frontier {
  constructor(size, hashes) { this.size = size; this.hashes = hashes; }
  async append(leaf) {
    let hash = leaf;
    let index = this.size;
    while (index & 1) {
      hash = await nodeHash(this.hashes.pop(), hash);
      index = Math.floor(index / 2);
    }
    this.hashes.push(hash);
    this.size++;
  }
  async root() {
    if (this.hashes.length === 0) return sha256(new Uint8Array(0));
    let hash = this.hashes[this.hashes.length - 1];
    for (let i = this.hashes.length - 2; i >= 0; i--) hash = await nodeHash(this.hashes[i], hash);
    return hash;
  }
}

function popcount(n) { let c = 0; while (n > 0) { c += n % 2; n = Math.floor(n / 2); } return c; }

// RFC 9162 §2.1.3.2.
async function verifyInclusion(index, size, leaf, proof, root) {
  if (index >= size) return false;
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if ((fn & 1) || fn === sn) {
      r = await nodeHash(p, r);
      while (!(fn & 1) && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

// RFC 9162 §2.1.4.2.
async function verifyConsistency(size1, size2, root1, root2, proof) {
  if (size1 > size2) return false;
  if (size1 === size2) return proof.length === 0 && equal(root1, root2);
  if (size1 === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = (size1 & (size1 - 1)) === 0 ? [root1, ...proof] : proof;
  let fn = size1 - 1, sn = size2 - 1;
  while (fn & 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
  let fr = path[0], sr = path[0];
  for (let i = 1; i < path.length; i++) {
    const c = path[i];
    if (sn === 0) return false;
    if ((fn & 1) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (!(fn & 1) && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(fr, root1) && equal(sr, root2);
}

// SHA-256(key name || 0x0A || 0x01 || public key)[:4].
async function noteKeyId(name, publicKey) {
  return (await sha256(concat(enc.encode(name), new Uint8Array([0x0a, 0x01]), publicKey))).slice(0, 4);
}

// A signed note: its text (through its final newline) and signature lines.
function splitNote(note) {
  const blank = note.indexOf('\n\n');
  if (typeof note !== 'string' || blank < 0) return null;
  const text = note.slice(0, blank + 1);
  const lines = note.slice(blank + 2).split('\n');
  if (lines[lines.length - 1] !== '') return null;
  lines.pop();
  if (lines.length === 0) return null;
  const signatures = [];
  for (const line of lines) {
    if (!line.startsWith(SIGNATURE_MARK)) return null;
    const rest = line.slice(SIGNATURE_MARK.length);
    const space = rest.lastIndexOf(' ');
    const blob = space > 0 ? base64ToBytes(rest.slice(space + 1)) : null;
    if (!blob || blob.length < 5) return null;
    signatures.push({ name: rest.slice(0, space), keyId: blob.slice(0, 4), type: blob[4] === undefined ? -1 : null, raw: blob });
  }
  return { text, signatures };
}

const keyCache = new Map();
async function importKey(publicKey) {
  const id = bytesToBase64(publicKey);
  if (!keyCache.has(id)) {
    keyCache.set(id, await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']));
  }
  return keyCache.get(id);
}

// 'ok' | 'absent' (no signature line by this key) | 'bad'.
async function noteSignedBy(note, name, publicKey) {
  const parts = splitNote(note);
  if (!parts) return 'bad';
  const keyId = await noteKeyId(name, publicKey);
  let found = false;
  for (const s of parts.signatures) {
    if (s.name !== name || !equal(s.keyId, keyId)) continue;
    // Ed25519 signatures are 64 bytes after the 4-byte key id.
    const signature = s.raw.slice(4);
    if (signature.length !== 64) return 'bad';
    const ok = await crypto.subtle.verify({ name: 'Ed25519' }, await importKey(publicKey), signature, enc.encode(parts.text));
    if (!ok) return 'bad';
    found = true;
  }
  return found ? 'ok' : 'absent';
}

function parseCheckpoint(note) {
  const parts = splitNote(note);
  if (!parts) return null;
  const lines = parts.text.split('\n');
  if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) return null;
  const root = base64ToBytes(lines[2]);
  if (!root || root.length !== 32) return null;
  return { origin: lines[0], size: Number(lines[1]), root };
}

// JSON as jansson's JSON_COMPACT | JSON_SORT_KEYS writes it (the seal's digest input).
export function canonicalJson(value) {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'string') {
      return '"' + value.replace(/[\u0000-\u001f"\\\u007f]/g, (c) => {
        switch (c) {
          case '"': return '\\"';
          case '\\': return '\\\\';
          case '\b': return '\\b';
          case '\f': return '\\f';
          case '\n': return '\\n';
          case '\r': return '\\r';
          case '\t': return '\\t';
          case '\u007f': return '\u007f';
          default: return '\\u' + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
        }
      }) + '"';
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  const keys = Object.keys(value).sort();
  return '{' + keys.map((k) => canonicalJson(k) + ':' + canonicalJson(value[k])).join(',') + '}';
}

function hasExactly(object, keys) {
  const own = Object.keys(object);
  return own.length === keys.length && keys.every((k) => Object.prototype.hasOwnProperty.call(object, k));
}

function hashes(list) {
  if (!Array.isArray(list)) return null;
  const out = [];
  for (const item of list) {
    const bytes = base64ToBytes(item);
    if (!bytes || bytes.length !== 32) return null;
    out.push(bytes);
  }
  return out;
}

const isCount = (v) => Number.isSafeInteger(v) && v >= 0;

// Verifies the export text against the trusted public key (64 hex). Resolves to a report
// {region, mode, records, checkpoints, treeSize, root, checkpoint: {size, time, note}};
// throws VerifyError naming the first bad line.
export async function verifyExport(text, publicKeyHex) {
  const trusted = hexToBytes(publicKeyHex);
  if (!trusted || trusted.length !== 32) throw new VerifyError(0, -1, 'the public key must be 64 hexadecimal characters');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const st = { keys: [trusted], records: 0, checkpoints: 0, digestParts: [], lastCheckpoint: null, lastSeq: -1, ended: false };
  let lineNo = 0, seq = -1;
  const fail = (message) => { throw new VerifyError(lineNo, seq, message); };
  for (const raw of lines) {
    lineNo++;
    seq = -1;
    if (st.ended) fail('content after the end of the export');
    let item;
    try { item = JSON.parse(raw); } catch (e) { fail('not JSON'); }
    if (item === null || typeof item !== 'object' || typeof item.type !== 'string') fail('not an export item (no "type")');
    if (item.type !== 'end') st.digestParts.push(canonicalJson(item) + '\n');
    if (!st.header) {
      if (item.type !== 'header') fail('the export does not start with a header');
      await header(st, item, trusted, fail);
    } else if (item.type === 'record') {
      seq = isCount(item.seq) ? item.seq : -1;
      await record(st, item, fail);
    } else if (item.type === 'checkpoint') {
      await checkpoint(st, item, fail);
    } else if (item.type === 'end') {
      await end(st, item, trusted, fail);
    } else {
      fail(`unexpected item type "${item.type}"`);
    }
  }
  if (!st.ended) throw new VerifyError(lineNo, -1, 'the export is cut: it has no end item');
  return {
    region: st.region, mode: st.filtered ? 'filtered' : 'range', records: st.records,
    checkpoints: st.checkpoints, treeSize: st.treeSize, root: bytesToBase64(st.root),
    firstSeq: st.first, endSeq: st.end, checkpoint: st.finalCheckpoint,
  };
}

async function header(st, h, trusted, fail) {
  const keys = ['type', 'format', 'version', 'region', 'origin', 'public_key', 'keys', 'mode', 'filter',
    'first_seq', 'end_seq', 'tree_size', 'checkpoint', 'start_frontier', 'exported_at'];
  if (!hasExactly(h, keys)) fail('the header does not have the fields of cdp-audit-export version 1');
  if (h.format !== 'cdp-audit-export' || h.version !== 1) fail('not a cdp-audit-export version 1');
  if (typeof h.region !== 'string' || !/^[a-z0-9_-]{1,16}$/.test(h.region) || h.origin !== 'cdp.audit/' + h.region) fail('bad region or origin');
  st.region = h.region;
  st.origin = h.origin;
  if (h.mode !== 'range' && h.mode !== 'filtered') fail('mode must be range or filtered');
  st.filtered = h.mode === 'filtered';
  if (!Array.isArray(h.keys)) fail('keys must be a list');
  for (const k of h.keys) {
    const key = hexToBytes(k && k.public_key);
    if (!key || key.length !== 32) fail('a key of keys is not 64 hex characters');
    if (!equal(key, trusted)) st.keys.push(key);
  }
  const f = h.filter;
  if (!f || typeof f !== 'object' || Object.keys(f).length !== 6) fail('malformed filter');
  const token = (v) => v === null || (typeof v === 'string' && /^[A-Za-z0-9_.:-]{1,128}$/.test(v));
  for (const k of ['actor_key_id', 'operation', 'profile_id', 'decision']) if (!token(f[k])) fail('malformed filter');
  for (const k of ['from', 'to']) if (!(f[k] === null || Number.isSafeInteger(f[k]))) fail('malformed filter');
  if (f.decision !== null && !['allow', 'withhold', 'deny'].includes(f.decision)) fail('unknown decision in the filter');
  const anyFilter = [f.actor_key_id, f.operation, f.profile_id, f.decision].some((v) => v !== null);
  if (st.filtered !== anyFilter) fail(`mode ${h.mode} does not fit the filter`);
  st.filter = f;
  st.filterText = `from=${f.from ?? '*'} to=${f.to ?? '*'} actor=${f.actor_key_id ?? '*'} profile=${f.profile_id ?? '*'} operation=${f.operation ?? '*'} decision=${f.decision ?? '*'}`;
  if (![h.first_seq, h.end_seq, h.tree_size].every(isCount) || h.first_seq > h.end_seq || h.end_seq > h.tree_size) fail('first_seq <= end_seq <= tree_size does not hold');
  st.first = h.first_seq; st.end = h.end_seq; st.treeSize = h.tree_size;
  const body = typeof h.checkpoint === 'string' ? parseCheckpoint(h.checkpoint) : null;
  if (!body) fail('the final checkpoint is malformed');
  const signed = await noteSignedBy(h.checkpoint, st.origin, trusted);
  if (signed === 'absent') fail(`the final checkpoint is not signed by the given public key (the export names key ${h.public_key})`);
  if (signed !== 'ok') fail("the final checkpoint's signature does not verify");
  if (body.origin !== st.origin || body.size !== st.treeSize) fail(`the final checkpoint is of ${body.origin} size ${body.size}, not ${st.origin} ${st.treeSize}`);
  st.root = body.root;
  st.finalCheckpoint = { size: body.size, note: h.checkpoint };
  const frontier = hashes(h.start_frontier);
  if (!frontier) fail('start_frontier is not a list of base64 hashes');
  if (st.filtered ? frontier.length !== 0 : frontier.length !== popcount(st.first)) fail(`start_frontier has ${frontier.length} hashes, which does not fit seq ${st.first}`);
  st.frontier = new Frontier(st.first, frontier);
  st.segmentStart = st.first;
  if (!Number.isSafeInteger(h.exported_at)) fail('exported_at is not a number');
  st.header = h;
}

async function record(st, r, fail) {
  if (!isCount(r.seq) || !hasExactly(r, ['type', 'seq', 'leaf', 'record', 'proof'])) fail('a record needs exactly seq, leaf, record and proof');
  const seq = r.seq;
  if (!st.filtered && seq !== st.frontier.size) {
    fail(seq > st.frontier.size ? `record seq ${st.frontier.size} is missing (the next record is seq ${seq})` : `out of order: seq ${seq} after seq ${st.frontier.size - 1}`);
  }
  if (st.filtered && st.lastSeq >= 0 && seq <= st.lastSeq) fail(`out of order: seq ${seq} after seq ${st.lastSeq}`);
  if (seq < st.first || seq >= st.end) fail(`seq ${seq} is outside the exported range [${st.first}, ${st.end})`);
  const leaf = base64ToBytes(r.leaf);
  if (!leaf) fail('leaf is not base64');
  const rec = r.record;
  if (!rec || typeof rec !== 'object' || rec.seq !== seq || rec.region !== st.region) fail('the readable record is not this seq of this region');
  const f = st.filter;
  if ((f.from !== null && rec.time < f.from) || (f.to !== null && rec.time > f.to)) fail(`time ${rec.time} is outside the exported time range`);
  if (st.filtered && ((f.actor_key_id !== null && f.actor_key_id !== rec.actor_key_id) || (f.operation !== null && f.operation !== rec.operation) ||
      (f.profile_id !== null && f.profile_id !== rec.profile_id) || (f.decision !== null && f.decision !== rec.decision))) {
    fail("the record does not match the export's filter");
  }
  const proof = hashes(r.proof);
  if (!proof) fail('proof is not a list of base64 hashes');
  const hash = await leafHash(leaf);
  if (st.filtered) {
    if (!(await verifyInclusion(seq, st.treeSize, hash, proof, st.root))) fail('the inclusion proof does not lead to the root of the final checkpoint');
    st.lastSeq = seq;
  } else {
    if (proof.length !== 0) fail('a range export carries no per-record proofs');
    await st.frontier.append(hash);
  }
  st.records++;
}

async function checkpoint(st, c, fail) {
  if (!isCount(c.tree_size) || typeof c.note !== 'string' || !hasExactly(c, ['type', 'tree_size', 'time', 'note', 'proof'])) fail('a checkpoint needs exactly tree_size, time, note and proof');
  const size = c.tree_size;
  const what = `the checkpoint of size ${size}`;
  const body = parseCheckpoint(c.note);
  if (!body) fail(`${what} is malformed`);
  if (body.origin !== st.origin || body.size !== size) fail(`${what} says ${body.origin} size ${body.size}`);
  let verified = 0;
  for (const key of st.keys) {
    const result = await noteSignedBy(c.note, st.origin, key);
    if (result === 'bad') fail(`${what}: a signature does not verify`);
    if (result === 'ok') verified++;
  }
  if (verified === 0) fail(`${what} is not signed by any key of the export`);
  if ((st.lastCheckpoint !== null && size <= st.lastCheckpoint) || size < st.first || size > st.end) fail(`${what} is out of order or outside [${st.first}, ${st.end}]`);
  const proof = hashes(c.proof);
  if (!proof) fail('proof is not a list of base64 hashes');
  if (st.filtered) {
    if (!(await verifyConsistency(size, st.treeSize, body.root, st.root, proof))) fail(`${what} is not consistent with the final checkpoint`);
  } else {
    if (size !== st.frontier.size) fail(`${what} comes after record seq ${st.frontier.size - 1}: records seq ${st.frontier.size}..${size - 1} are missing`);
    if (!equal(await st.frontier.root(), body.root)) fail(`${what} does not match the records before it: a record of seq ${st.segmentStart}..${size - 1} was altered`);
    st.segmentStart = size;
  }
  st.lastCheckpoint = size;
  st.lastCheckpointTime = c.time;
  st.checkpoints++;
}

async function end(st, e, trusted, fail) {
  if (!hasExactly(e, ['type', 'records', 'checkpoints', 'consistency', 'seal']) || !isCount(e.records) || !isCount(e.checkpoints) || typeof e.seal !== 'string') {
    fail('the end needs exactly records, checkpoints, consistency and seal');
  }
  const proof = hashes(e.consistency);
  if (!proof) fail('the end needs exactly records, checkpoints, consistency and seal');
  if (!st.filtered) {
    if (st.frontier.size !== st.end) fail(`the export ends early: records seq ${st.frontier.size}..${st.end - 1} are missing`);
    if (!(await verifyConsistency(st.end, st.treeSize, await st.frontier.root(), st.root, proof))) {
      fail(`the records do not lead to the final checkpoint: a record of seq ${st.segmentStart}..${st.end ? st.end - 1 : 0} was altered`);
    }
  } else if (proof.length !== 0) {
    fail('a filtered export ends without a consistency proof');
  }
  if (e.records !== st.records || e.checkpoints !== st.checkpoints) {
    fail(`the end counts ${e.records} records and ${e.checkpoints} checkpoints; the file holds ${st.records} and ${st.checkpoints}`);
  }
  const digest = await sha256(enc.encode(st.digestParts.join('')));
  const expected = `cdp.audit.export/${st.region}\nmode ${st.filtered ? 'filtered' : 'range'}\nfilter ${st.filterText}\n` +
    `range ${st.first} ${st.end}\ntree ${st.treeSize} ${bytesToBase64(st.root)}\nrecords ${st.records}\n` +
    `checkpoints ${st.checkpoints}\ndigest ${bytesToBase64(digest)}\n`;
  const signed = await noteSignedBy(e.seal, st.origin, trusted);
  if (signed !== 'ok') fail('the seal is not signed by the given key');
  if (splitNote(e.seal).text !== expected) fail('the seal does not match the export (its records, range, filter or counts were changed)');
  st.ended = true;
}
