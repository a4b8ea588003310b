// Reads a cdp audit export (Avro object container file) with npm avsc, an Avro implementation
// independent of Avro C, and checks it on its own terms: header first, end last, every record's
// leaf bytes are an Avro single object whose decoded fields the item repeats; the RFC 6962 tree
// recomputed here from the leaves (and the start frontier) gives the root of the final
// checkpoint; and that checkpoint's Ed25519 signature (C2SP signed note) verifies with the given
// public key using node's own crypto.
// Usage: node avro_read.mjs FILE PUBKEY_HEX   (prints a JSON summary; exit 0 when all holds)
import avro from 'avsc';
import crypto from 'node:crypto';
import fs from 'node:fs';

const [file, pubkeyHex] = process.argv.slice(2);
if (!file || !/^[0-9a-f]{64}$/.test(pubkeyHex || '')) {
  console.error('usage: node avro_read.mjs FILE PUBKEY_HEX');
  process.exit(2);
}

function fail(message) {
  console.error(`avro_read: ${file}: ${message}`);
  process.exit(1);
}

if (!fs.existsSync(file)) fail('no such file');

const sha256 = (...parts) => crypto.createHash('sha256').update(Buffer.concat(parts)).digest();
const leafHash = (leaf) => sha256(Buffer.from([0]), leaf);
const nodeHash = (left, right) => sha256(Buffer.from([1]), left, right);

// Compact range: perfect subtree roots, largest first; append merges like a binary counter.
function append(frontier, size, hash) {
  let h = hash;
  for (let level = 0; Math.floor(size / 2 ** level) % 2 === 1; level++) h = nodeHash(frontier.pop(), h);
  frontier.push(h);
}
function root(frontier) {
  if (frontier.length === 0) return sha256(Buffer.alloc(0));
  let h = frontier[frontier.length - 1];
  for (let i = frontier.length - 2; i >= 0; i--) h = nodeHash(frontier[i], h);
  return h;
}

function verifyNote(note, keyName, publicKey) {
  const split = note.lastIndexOf('\n\n');
  const text = note.slice(0, split + 1);
  const keyId = sha256(Buffer.from(keyName + '\n'), Buffer.from([1]), publicKey).subarray(0, 4);
  const spki = crypto.createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]),
    format: 'der', type: 'spki',
  });
  for (const line of note.slice(split + 2).split('\n').filter(Boolean)) {
    const [dash, name, blob] = line.split(' ');
    const raw = Buffer.from(blob, 'base64');
    if (dash !== '\u2014' || name !== keyName || !raw.subarray(0, 4).equals(keyId)) continue;
    if (crypto.verify(null, Buffer.from(text), spki, raw.subarray(4))) return text;
  }
  return null;
}

const items = [];
let codec = null;
avro.createFileDecoder(file)
  .on('metadata', (type, fileCodec) => { codec = fileCodec; })
  .on('data', (item) => items.push(item))
  .on('error', (error) => fail(`not readable: ${error.message}`))
  .on('end', () => {
    if (items.length < 2) fail('fewer than two items');
    const header = items[0].header;
    if (items[0].kind !== 'header' || !header) fail('first item is not the header');
    if (header.format !== 'cdp-audit-export') fail(`format ${header.format}`);
    if (items[items.length - 1].kind !== 'end') fail('last item is not the end');
    const publicKey = Buffer.from(pubkeyHex, 'hex');
    const text = verifyNote(header.checkpoint, header.origin, publicKey);
    if (text === null) fail('the final checkpoint is not signed by the given key');
    const [origin, size, root64] = text.split('\n');
    if (origin !== header.origin || Number(size) !== header.tree_size) fail('checkpoint body');
    let records = 0;
    const frontier = header.start_frontier.slice();
    let treeSize = header.first_seq;
    for (const item of items.slice(1, -1)) {
      if (item.kind !== 'record') continue;
      const { seq, leaf, record } = item.record;
      if (!Buffer.isBuffer(leaf) || leaf[0] !== 0xc3 || leaf[1] !== 0x01) fail(`seq ${seq}: leaf is not a single object`);
      if (record.seq !== seq || record.region !== header.region) fail(`seq ${seq}: decoded fields disagree`);
      if (!['allow', 'withhold', 'deny'].includes(record.decision)) fail(`seq ${seq}: decision`);
      if (header.mode === 'range') {
        if (seq !== treeSize) fail(`seq ${seq}: expected ${treeSize}`);
        append(frontier, treeSize, leafHash(leaf));
        treeSize++;
      }
      records++;
    }
    const end = items[items.length - 1].end;
    if (end.records !== records) fail(`end counts ${end.records} records, file has ${records}`);
    let rootOk = null;
    if (header.mode === 'range' && header.end_seq === header.tree_size) {
      rootOk = root(frontier).toString('base64') === root64;
      if (!rootOk) fail('the recomputed root differs from the final checkpoint');
    }
    console.log(JSON.stringify({ reader: 'avsc', codec, items: items.length, records, mode: header.mode,
      tree_size: header.tree_size, root_recomputed: rootOk, checkpoint_signature: true }));
  });
