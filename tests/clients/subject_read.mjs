// Reads a cdp data-subject export (Avro object container file) with npm avsc, an Avro
// implementation independent of Avro C: header first, end last, exactly the branch named by each
// item's kind set, every item about the header's person, and the end item's counts equal to the
// items in the file. Optionally checks the number of events and that given message ids are there.
// Usage: node subject_read.mjs FILE [EVENTS [MESSAGE_ID,...]]
//   prints a JSON summary; exit 0 when all holds, 1 otherwise, 2 on bad usage.
import avro from 'avsc';
import fs from 'node:fs';

const [file, eventsArg, idsArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node subject_read.mjs FILE [EVENTS [MESSAGE_ID,...]]');
  process.exit(2);
}

function fail(message) {
  console.error(`subject_read: ${file}: ${message}`);
  process.exit(1);
}

if (!fs.existsSync(file)) fail('no such file');

const branches = ['header', 'subject', 'identity', 'trait', 'event', 'merge', 'consent', 'audit', 'end'];
const counts = Object.fromEntries(branches.map((b) => [b, 0]));
const messageIds = new Set();
let header = null;
let subjectMembers = null;
let end = null;
let items = 0;
let codec = null;
avro.createFileDecoder(file)
  .on('metadata', (type, fileCodec) => {
    codec = fileCodec;
    if (type.name !== 'cdp.export.SubjectExportItem') fail(`schema ${type.name}`);
  })
  .on('data', (item) => {
    items++;
    if (!branches.includes(item.kind)) fail(`item ${items}: kind ${item.kind}`);
    for (const branch of branches) {
      const set = item[branch] !== null && item[branch] !== undefined;
      if (set !== (branch === item.kind)) fail(`item ${items}: branch ${branch} ${set ? 'set' : 'missing'}`);
    }
    if (items === 1 && item.kind !== 'header') fail('first item is not the header');
    if (end !== null) fail(`item ${items} after the end`);
    counts[item.kind]++;
    const body = item[item.kind];
    if (item.kind === 'header') {
      if (body.format !== 'cdp-subject-export' || body.version !== 1) fail('header format');
      header = body;
    } else if (item.kind === 'subject') {
      if (body.profile_id !== header.profile_id) fail('subject is another profile');
    } else if (item.kind === 'event') {
      const members = [header.profile_id, ...(subjectMembers ?? [])];
      if (!members.includes(body.profile_id)) fail(`event ${body.event_id} of another profile`);
      JSON.parse(body.properties_json);
      messageIds.add(body.message_id);
    } else if (item.kind === 'end') {
      end = body;
    }
    if (item.kind === 'subject') subjectMembers = body.merged_from;
  })
  .on('error', (error) => fail(`not readable: ${error.message}`))
  .on('end', () => {
    if (end === null) fail('no end item: the export is incomplete');
    const pairs = [['identities', 'identity'], ['traits', 'trait'], ['events', 'event'],
      ['merges', 'merge'], ['consent', 'consent'], ['audit', 'audit']];
    for (const [field, kind] of pairs) {
      if (Number(end[field]) !== counts[kind]) fail(`end counts ${end[field]} ${field}, file has ${counts[kind]}`);
    }
    if (counts.subject !== 1) fail(`${counts.subject} subject items`);
    if (eventsArg !== undefined && counts.event !== Number(eventsArg)) fail(`${counts.event} events, expected ${eventsArg}`);
    for (const id of (idsArg ?? '').split(',').filter(Boolean)) {
      if (!messageIds.has(id)) fail(`event ${id} missing`);
    }
    console.log(JSON.stringify({ reader: 'avsc', codec, items, profile_id: header.profile_id,
      region: header.region, identities: counts.identity, traits: counts.trait, events: counts.event,
      merges: counts.merge, consent: counts.consent, consent_records_held: Number(end.consent_records_held),
      audit: counts.audit }));
  });
