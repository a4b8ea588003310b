#!/usr/bin/env bash
# Disk full and a read-only data directory (issue 10), on a small tmpfs the test mounts (needs
# root or CAP_SYS_ADMIN; without it the test is skipped, exit 77: mount is the only way to get a
# real ENOSPC and a real read-only file system, and root ignores chmod).
# Disk full while serving: the write that hits it gets 500 internal and the server log names
# the cause; every later write is refused without touching RocksDB again (it aborts otherwise,
# see region.c); reads of personal data fail closed (500: their audit record cannot be written,
# and nothing leaves unaudited); /healthz and the audit public key still answer; the server
# stops cleanly. With space back, a restart serves every acknowledged event, takes writes again,
# and the audit log verifies.
# Read-only data directory: serve and the CLI refuse to start (exit 1) naming the cause; once
# writable again, everything is there.
set -u
. "$(dirname "$0")/support/server.sh"
srv_setup disk-faults

mnt="$work/mnt"
mkdir "$mnt"
if ! mount -t tmpfs -o size=48m tmpfs "$mnt" 2>"$work/err"; then
    echo "SKIP disk_faults: cannot mount a tmpfs here ($(cat "$work/err"))"
    exit 77
fi
srv_cleanup_hook() { mount -o remount,rw "$mnt" 2>/dev/null; umount -l "$mnt" 2>/dev/null; }
data="$mnt/data"
srv_init "$data"
ingest_key=$(srv_key "$data" ingest eu --source web) || srv_abort "ingest key"
dpo_key=$(srv_key "$data" dpo eu) || srv_abort "dpo key"
auditor_key=$(srv_key "$data" auditor eu) || srv_abort "auditor key"
srv_start "$data" || srv_abort "server start: $(cat "$work/server.err")"

pad=$(head -c 20000 /dev/zero | tr '\0' x)
# post_batch N: 15 events of ~20 KB for user df-N (messageIds df-N-1..15); on 200 they are
# appended to $work/acked.
post_batch() {
    local n=$1 body='{"batch":[' i
    for i in $(seq 15); do
        [ "$i" -gt 1 ] && body="$body,"
        body="$body{\"type\":\"track\",\"event\":\"Filler\",\"userId\":\"df-$n\",\"messageId\":\"df-$n-$i\",\"properties\":{\"pad\":\"$pad\"},\"context\":{\"location\":{\"country\":\"DE\"}}}"
    done
    printf '%s]}' "$body" >"$work/batch.json"
    request POST /v1/batch -u "$ingest_key:" -H 'Content-Type: application/json' \
        --data-binary "@$work/batch.json"
    [ "$status" = 200 ] && seq -f "df-$n-%g" 15 >>"$work/acked"
    return 0
}
: >"$work/acked"
for n in 1 2 3; do post_batch "$n"; done
check writes_before_full test "$(wc -l <"$work/acked")" = 45

# Fill the file system, then write until a write fails.
dd if=/dev/zero of="$mnt/filler" bs=1M >/dev/null 2>&1
n=3
while [ "$n" -lt 200 ]; do
    n=$((n + 1))
    post_batch "$n"
    [ "$status" = 200 ] || break
done
expect disk_full_write_is_500_internal 500 internal
grep -q 'No space left on device' "$work/server.err" && pass ||
    fail disk_full_logged "$(tail -3 "$work/server.err")"
post_batch 500
expect later_write_refused 500 internal
grep -q 'writes stopped after a failed write' "$work/server.err" && pass ||
    fail writes_stopped_logged "$(tail -3 "$work/server.err")"
request GET /healthz
expect healthz_while_full 200
request GET '/v1/audit/pubkey?region=eu' -H "Authorization: Bearer $auditor_key"
expect audit_pubkey_while_full 200
request GET /v1/profiles/user_id:df-1 -H "Authorization: Bearer $dpo_key" \
    -H 'X-CDP-Purpose: legal_obligation'
expect personal_read_fails_closed_while_full 500 internal
grep -q 'df-1' "$work/body" && fail no_data_unaudited "the body has the person" || pass
kill -0 "$server_pid" 2>/dev/null && pass || fail server_survives_disk_full "the server died"
srv_stop
[ "$server_exit" = 0 ] && pass || fail clean_stop_when_full "serve exited $server_exit"

# Space returns: restart, everything acknowledged is there exactly once, writes work.
rm -f "$mnt/filler"
srv_start "$data" || srv_abort "restart after disk full: $(cat "$work/server.err")"
sort "$work/acked" >"$work/acked.sorted"
: >"$work/stored"
for user in $(sed 's/-[0-9]*$//' "$work/acked.sorted" | sort -u); do
    request GET "/v1/profiles/user_id:$user/events?limit=1000" -H "Authorization: Bearer $dpo_key" \
        -H 'X-CDP-Purpose: legal_obligation'
    [ "$status" = 200 ] || fail "read_$user" "HTTP $status"
    jq -r '.events[].message_id' "$work/body" >>"$work/stored"
done
sort "$work/stored" >"$work/stored.sorted"
missing=$(comm -23 "$work/acked.sorted" "$work/stored.sorted" | head -3)
[ -z "$missing" ] && pass || fail acknowledged_events_survive_disk_full "lost: $missing"
[ -z "$(uniq -d "$work/stored.sorted")" ] && pass || fail no_event_twice "duplicates"
post_batch 900
expect writes_after_space_returns 200
srv_stop

pubkey=$("$cdpctl" audit pubkey --data "$data" --region eu 2>/dev/null)
"$cdpctl" audit export --data "$data" --region eu --format jsonl --out "$work/audit.jsonl" \
    2>"$work/err"
check audit_export_after_disk_full test $? = 0
"$cdpctl" audit verify --pubkey "$pubkey" "$work/audit.jsonl" >/dev/null 2>&1
check audit_verifies_after_disk_full test $? = 0

# ---- read-only ---------------------------------------------------------------------------------
mount -o remount,ro "$mnt" || srv_abort "remount read-only"
if srv_start "$data"; then
    fail serve_refuses_read_only "the server started"
    srv_stop
else
    [ "${server_exit:-}" = 1 ] && pass || fail serve_read_only_exit_1 "exit ${server_exit:-?}"
    grep -q 'Read-only file system' "$work/server.err" && pass ||
        fail serve_read_only_message "$(cat "$work/server.err")"
fi
"$cdpctl" profile --data "$data" --purpose legal_obligation --id user_id:df-1 \
    >"$work/out" 2>"$work/err"
check cli_read_only_exit_1 test $? = 1
check cli_read_only_message grep -q 'Read-only file system' "$work/err"
mount -o remount,rw "$mnt" || srv_abort "remount read-write"
"$cdpctl" profile --data "$data" --purpose legal_obligation --id user_id:df-1 \
    >"$work/out" 2>"$work/err"
check cli_reads_when_writable_again test $? = 0
check cli_has_the_person grep -q '"region"' "$work/out"
srv_summary
