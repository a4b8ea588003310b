// TC strings made by the IAB reference encoder (@iabtcf/core), with the fields the IAB reference
// decoder reads back from them, as JSON on stdout: the vectors cdp's TCF decoder must agree with
// (tests/tcf_test.c reads a committed copy, tests/data/tcf_vectors.json; tests/tcf_vectors_test.sh
// regenerates them and runs the same checks). Offline: the Global Vendor List is a synthetic one
// built here, so no network is needed.
//
//   node tcf_vectors.mjs > ../data/tcf_vectors.json
import {
  GVL, TCModel, TCString, PurposeRestriction, RestrictionType, VendorVectorEncoder,
} from '@iabtcf/core';

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// A vendor list of `count` vendors. Odd vendors declare legitimate interest for purposes 2 and 7,
// even ones none up to 1000 (the encoder then drops their LI bits, as a CMP must).
function vendorList(count, policyVersion, listVersion) {
  const names = (ids) => Object.fromEntries(ids.map((id) => [id, { id, name: `x${id}`, description: '' }]));
  const vendors = {};
  for (const id of range(1, count)) {
    vendors[id] = {
      id, name: `Vendor ${id}`, purposes: range(1, 11), legIntPurposes: id % 2 || id > 1000 ? [2, 7] : [],
      flexiblePurposes: [], specialPurposes: [1], features: [], specialFeatures: [1, 2],
      policyUrl: `https://vendor${id}.example/privacy`,
    };
  }
  return {
    gvlSpecificationVersion: 3, vendorListVersion: listVersion, tcfPolicyVersion: policyVersion,
    lastUpdated: '2024-03-01T16:00:00Z', purposes: names(range(1, 11)), specialPurposes: names([1, 2, 3]),
    features: names([1, 2, 3]), specialFeatures: names([1, 2]), stacks: {}, vendors,
  };
}

// Our purposes as cdp maps them (the consent brief; policies/tcf.json): granted when every mapped
// TCF purpose has consent, or LI where TCF v2.2 allows LI (2, 7..11).
const MAP = { advertising: [2, 3, 4, 7], personalization: [5, 6, 11], analytics: [8, 9, 10] };
const LI_ALLOWED = new Set([2, 7, 8, 9, 10, 11]);

function ids(vector) {
  const out = [];
  vector.forEach((value, id) => { if (value) out.push(id); });
  return out;
}

function vectorsOf(c) {
  const model = new TCModel(new GVL(vendorList(c.gvlVendors, c.policyVersion ?? 4, c.listVersion ?? 140)));
  model.cmpId = c.cmpId ?? 300;
  model.cmpVersion = c.cmpVersion ?? 2;
  model.consentScreen = c.consentScreen ?? 1;
  model.publisherCountryCode = c.publisherCC ?? 'DE';
  model.isServiceSpecific = c.serviceSpecific ?? false;
  model.useNonStandardTexts = c.nonStandardTexts ?? false;
  model.purposeOneTreatment = c.purposeOneTreatment ?? false;
  model.created = new Date(c.created);
  model.lastUpdated = new Date(c.lastUpdated);
  model.purposeConsents.set(c.purposes ?? []);
  model.purposeLegitimateInterests.set(c.purposeLI ?? []);
  model.specialFeatureOptins.set(c.specialFeatures ?? []);
  model.vendorConsents.set(c.vendors ?? []);
  model.vendorLegitimateInterests.set(c.vendorLI ?? []);
  for (const [vendor, purpose] of c.restrictions ?? [])
    model.publisherRestrictions.add(vendor, new PurposeRestriction(purpose, RestrictionType.NOT_ALLOWED));
  const tcString = TCString.encode(model, c.encodeOptions);
  // Expected values: what the reference decoder reads back, not what we asked for (the encoder
  // applies the TCF's rules, e.g. no LI for purpose 1, no bits for vendors off the list).
  const d = TCString.decode(tcString);
  const vendorVector = (v) => ({
    max_vendor_id: v.maxId,
    range_encoded: VendorVectorEncoder.encode(v)[16] === '1',
    ids: ids(v),
  });
  const consents = ids(d.purposeConsents), li = ids(d.purposeLegitimateInterests);
  const mapped = {};
  for (const [ours, tcf] of Object.entries(MAP))
    mapped[ours] = tcf.every((p) => consents.includes(p) || (LI_ALLOWED.has(p) && li.includes(p)))
      ? 'granted' : 'denied';
  return {
    name: c.name,
    tc_string: tcString,
    version: d.version,
    created_ms: d.created.getTime(),
    last_updated_ms: d.lastUpdated.getTime(),
    cmp_id: d.cmpId,
    cmp_version: d.cmpVersion,
    consent_screen: d.consentScreen,
    consent_language: d.consentLanguage,
    vendor_list_version: d.vendorListVersion,
    policy_version: d.policyVersion,
    is_service_specific: d.isServiceSpecific,
    use_non_standard_texts: d.useNonStandardTexts,
    special_feature_optins: ids(d.specialFeatureOptins),
    purpose_consents: consents,
    purpose_legitimate_interests: li,
    purpose_one_treatment: d.purposeOneTreatment,
    publisher_cc: d.publisherCountryCode,
    vendor_consents: vendorVector(d.vendorConsents),
    vendor_legitimate_interests: vendorVector(d.vendorLegitimateInterests),
    publisher_restriction_count: d.publisherRestrictions.numRestrictions,
    segment_count: tcString.split('.').length,
    mapped,
  };
}

const cases = [
  {
    name: 'all_purposes_few_vendors_bitfield', gvlVendors: 40, purposes: range(1, 11),
    purposeLI: [2, 7, 8, 9, 10, 11], vendors: [1, 2, 3, 5, 8, 13, 21, 34], vendorLI: [1, 3, 5, 7],
    specialFeatures: [1, 2], created: '2024-05-01T10:00:00.000Z', lastUpdated: '2024-05-01T10:00:00.000Z',
  },
  {
    name: 'nothing_consented', gvlVendors: 10, purposes: [], vendors: [],
    created: '2023-11-30T23:59:59.900Z', lastUpdated: '2024-01-02T08:30:00.100Z', publisherCC: 'FR',
    cmpId: 7, cmpVersion: 4095, consentScreen: 63,
  },
  {
    name: 'storage_only', gvlVendors: 10, purposes: [1], vendors: [4],
    created: '2024-02-29T12:00:00.000Z', lastUpdated: '2024-03-01T12:00:00.000Z',
  },
  {
    name: 'many_vendors_range_encoded', gvlVendors: 1200, purposes: range(1, 11),
    vendors: [...range(1, 299), ...range(311, 1100), 1150, 1200], vendorLI: [1, 3, ...range(1001, 1200)],
    created: '2024-06-15T09:00:00.000Z', lastUpdated: '2024-06-20T18:45:30.500Z', publisherCC: 'IT',
  },
  {
    name: 'alternating_vendors_bitfield', gvlVendors: 300, purposes: [1, 2, 3, 4, 7],
    vendors: range(1, 300).filter((id) => id % 2), vendorLI: range(1, 300).filter((id) => id % 3 === 0),
    created: '2024-04-01T00:00:00.000Z', lastUpdated: '2024-04-01T00:00:00.000Z',
  },
  {
    name: 'legitimate_interest_only', gvlVendors: 50, purposes: [1], purposeLI: [2, 3, 4, 7, 8, 9, 10, 11],
    vendors: [], vendorLI: range(1, 50).filter((id) => id % 2),
    created: '2024-07-01T07:07:07.700Z', lastUpdated: '2024-07-02T07:07:07.700Z',
  },
  {
    name: 'analytics_only_service_specific_with_restrictions', gvlVendors: 60, serviceSpecific: true,
    purposes: [1, 8, 9, 10], vendors: [2, 4, 6], nonStandardTexts: true, purposeOneTreatment: true,
    restrictions: [[2, 3], [4, 3], [6, 8]], publisherCC: 'AA',
    created: '2024-08-08T08:08:08.000Z', lastUpdated: '2024-09-09T09:09:09.000Z',
  },
  {
    name: 'policy_v2_0_string', gvlVendors: 20, policyVersion: 2, listVersion: 50, purposes: range(1, 6),
    purposeLI: [7, 8], vendors: range(1, 20), specialFeatures: [2],
    created: '2021-01-01T00:00:00.000Z', lastUpdated: '2021-06-01T00:00:00.000Z',
  },
  {
    name: 'for_vendors_publisher_tc_segment', gvlVendors: 30, purposes: range(1, 11), vendors: [1, 30],
    encodeOptions: { isForVendors: true }, created: '2024-10-10T10:10:10.000Z',
    lastUpdated: '2024-10-11T10:10:10.000Z',
  },
];

process.stdout.write(JSON.stringify({ generator: '@iabtcf/core 1.5.6', vectors: cases.map(vectorsOf) }, null, 1) + '\n');
