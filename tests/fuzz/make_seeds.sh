#!/usr/bin/env bash
# Regenerates the seed corpora in tests/fuzz/corpus/<harness>/ from real inputs: the messages
# and requests of README.md and docs/, the TCF vectors of tests/data/tcf_vectors.json, the
# shipped policies/, records encoded by our own encoders (fuzz_avro_seeds) and audit exports
# made by cdpctl. Run by hand after a format changes (needs python3 and a normal build):
#   tests/fuzz/make_seeds.sh [BUILD_DIR]
# The output is committed; CI only reads it.
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$source_dir/build}" && pwd)
corpus="$source_dir/tests/fuzz/corpus"
work=$(mktemp -d /tmp/cdp-seeds-XXXXXX)
trap 'rm -rf "$work"' EXIT
rm -rf "$corpus"
mkdir -p "$corpus"/{segment,batch,normalize,tcf,policy,avro,opengdpr,audit_verify}

# ---- Segment messages (README.md, docs/integrating.md, the Segment Spec's shapes) ----------
messages=(
'{"userId":"u1","traits":{"email":"Alice@Example.com","first_name":"Alice"}}'
'{"anonymousId":"pos-77","event":"Order Completed","properties":{"revenue":42,"currency":"EUR"},"context":{"channel":"pos","location":{"country":"DE"}}}'
'{"type":"identify","userId":"u2","messageId":"m3","traits":{"email":"dan@example.com","phone":"+47 22 33 44 55","address":{"country":"Norway","city":"Oslo"}},"timestamp":"2024-05-01T10:00:00.123Z"}'
'{"type":"track","userId":97980,"event":"Product Viewed","properties":{"sku":"A-1"},"context":{"externalIds":[{"id":"L-123","type":"loyalty_id","collection":"users","encoding":"none"}],"device":{"id":"dev-1"}},"originalTimestamp":"2024-05-01T12:00:00+02:00","sentAt":"2024-05-01T10:00:01Z"}'
'{"type":"page","anonymousId":"a-1","name":"Home","properties":{"url":"https://shop.example/"},"context":{"locale":"nb-NO","timezone":"Europe/Oslo","traits":{"email":"Ålice@BÜCHER.example"}}}'
'{"type":"screen","userId":"u3","name":"Cart","channel":"mobile","context":{"location":{"country":"US"},"traits":{"phone":"(415) 555-0132","address":{"country":"US","state":"CA"}}}}'
'{"type":"group","userId":"u4","groupId":"g-9","traits":{"name":"Acme"}}'
'{"type":"alias","userId":"u5","previousId":"anon-5"}'
'{"type":"identify","userId":"u6","traits":{"email":"test@test.com","phone":"0000000000"}}'
)
i=0
for m in "${messages[@]}"; do
    printf '%s' "$m" >"$corpus/segment/msg-$i.json"
    i=$((i + 1))
done

# ---- Batch bodies: byte 0 = encoding (0 identity, 2 gzip here) | chunk size << 2 -----------
joined=$(IFS=,; echo "${messages[*]}")
printf '\x00{"batch":[%s]}' "$joined" >"$corpus/batch/plain-all"
printf '\x0e{"batch":[%s]}' "$joined" >"$corpus/batch/gzip-here-all"
printf '\x13{"batch":[%s],"context":{"library":{"name":"analytics.js"}}}' "${messages[0]}" >"$corpus/batch/gzip-two-members"
printf '\x04{"batch":[%s]}' "${messages[1]}" | gzip -c >"$work/gz"
{ printf '\x05'; cat "$work/gz"; } >"$corpus/batch/gzip-wire"
printf '\x00{"batch":[]}' >"$corpus/batch/empty-batch"

# ---- Identifiers: byte 0 mode (0 email, 1 phone, 2 plain, 3 typed), byte 1 country, byte 2 --
normalize_seed() { printf "$1" >"$corpus/normalize/$2"; }
normalize_seed '\x00\x00\x00  Alice@Example.com ' email-trim
normalize_seed '\x00\x00\x00\xc3\x85lice@B\xc3\x9cCHER.example' email-idn
normalize_seed '\x00\x00\x00"quoted local"@example.com' email-quoted
normalize_seed '\x01\x01\x00+47 22 33 44 55' phone-e164
normalize_seed '\x01\x01\x000047 22334455' phone-intl-prefix-no
normalize_seed '\x01\x02\x00(415) 555-0132' phone-national-us
normalize_seed '\x01\x00\x0022 33 44 55' phone-no-country
normalize_seed '\x02\x00\x00  user-\xc3\xa9\x31 ' plain-nfc
normalize_seed '\x03em\x00loyalty-123' typed

# ---- TCF strings (tests/data/tcf_vectors.json, made by @iabtcf/core) ------------------------
python3 - "$source_dir/tests/data/tcf_vectors.json" "$corpus/tcf" <<'PY'
import json, sys
vectors = json.load(open(sys.argv[1]))["vectors"]
for v in vectors:
    open(f"{sys.argv[2]}/{v['name']}", "w").write(v["tc_string"])
PY

# ---- Policy bundles: the shipped files joined by NUL, in fuzz_policy.c's order ---------------
files=(regions categories purposes regimes transfers retention tcf roles identity audit)
: >"$corpus/policy/shipped"
for n in "${!files[@]}"; do
    [ "$n" -gt 0 ] && printf '\x00' >>"$corpus/policy/shipped"
    cat "$source_dir/policies/${files[$n]}.json" >>"$corpus/policy/shipped"
done
: >"$corpus/policy/regions-only"
cat "$source_dir/policies/regions.json" >>"$corpus/policy/regions-only"

# ---- Avro records: every schema, encoded by our encoders ------------------------------------
"$build/fuzz_avro_seeds" "$corpus/avro"

# ---- OpenGDPR / OpenDSR bodies (docs/dsr.md) ------------------------------------------------
gdpr() { printf '%s' "$2" >"$corpus/opengdpr/$1"; }
gdpr erasure '{"subject_request_id": "a7551968-d5d6-44b2-9831-815ac9017798", "subject_request_type": "erasure", "submitted_time": "2024-05-01T10:00:00Z", "api_version": "0.1", "subject_identities": [{"identity_type": "email", "identity_value": "alice@example.com", "identity_format": "raw"}]}'
gdpr access-sha256 '{"subject_request_id": "B7551968-D5D6-44B2-9831-815AC9017798", "subject_request_type": "access", "submitted_time": "2024-05-01T10:00:00.5+02:00", "api_version": "0.1", "subject_identities": [{"identity_type": "controller_customer_id", "identity_value": "u1"}, {"identity_type": "email", "identity_value": "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976", "identity_format": "sha256"}]}'
gdpr opendsr-ccpa '{"subject_request_id": "c7551968-d5d6-44b2-9831-815ac9017798", "subject_request_type": "portability", "submitted_time": "2024-05-01T10:00:00Z", "regulation": "ccpa", "subject_identities": {"email": {"value": "ben@example.com", "format": "raw"}, "phone": "+4722334455"}}'
gdpr rectification '{"subject_request_id": "d7551968-d5d6-44b2-9831-815ac9017798", "subject_request_type": "rectification", "submitted_time": "2024-05-01T10:00:00Z", "api_version": "0.1", "subject_identities": [{"identity_type": "email", "identity_value": "alice@example.com"}], "extensions": {"cdp": {"traits": {"first_name": "Alicia", "address.city": "Bergen"}}}}'
gdpr objection '{"subject_request_id": "e7551968-d5d6-44b2-9831-815ac9017798", "subject_request_type": "objection", "submitted_time": "2024-05-01T10:00:00Z", "regulation": "gdpr", "api_version": "3.0", "subject_identities": {"loyalty_id": {"value": "L-1", "identity_format": "raw"}}, "extensions": {"cdp": {"purpose": "marketing"}}}'
gdpr restriction '{"subject_request_id": "f7551968-d5d6-44b2-9831-815ac9017798", "subject_request_type": "restriction", "submitted_time": "2024-05-01T10:00:00Z", "api_version": "0.1", "subject_identities": [{"identity_type": "user_id", "identity_value": "u1"}]}'

# ---- Audit exports made by cdpctl: 32 bytes of the region's key, then the file ---------------
cdpctl="$build/cdpctl"
unset CDP_ROOT_KEY
"$cdpctl" init --data "$work/data" --policies "$source_dir/policies" >/dev/null 2>&1
for i in 1 2 3; do
    printf '{"type":"identify","userId":"u%s","messageId":"m%s","traits":{"email":"person%s@example.com"},"context":{"location":{"country":"DE"}}}\n' "$i" "$i" "$i"
done >"$work/events.jsonl"
"$cdpctl" import --data "$work/data" --source web "$work/events.jsonl" >/dev/null 2>&1
"$cdpctl" profile get --data "$work/data" --purpose personalization email:person1@example.com >/dev/null 2>&1 || true
pubkey=$("$cdpctl" audit pubkey --data "$work/data" --region eu)
export_seed() { # name args...
    local name=$1
    shift
    "$cdpctl" audit export --data "$work/data" --region eu "$@" --out "$work/$name" 2>/dev/null
    "$cdpctl" audit verify --pubkey "$pubkey" "$work/$name" >/dev/null
    { printf '%s' "$pubkey" | xxd -r -p; cat "$work/$name"; } >"$corpus/audit_verify/$name"
}
export_seed all.jsonl --format jsonl
export_seed all.avro --format avro
export_seed filtered.jsonl --format jsonl --from 2020-01-01 --decision allow
export_seed filtered.avro --format avro --operation ingest
ls "$corpus"/* | wc -l
