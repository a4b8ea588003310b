#!/usr/bin/env bash
# A damaged store or a wrong root key (issue 10): the server and the CLI refuse to start with a
# message naming the cause (exit 1), never serve; once the damage is undone they serve the same
# data again.
# - Every table file (SST) of a region, damaged in turn (bytes flipped in its middle, so the
#   block checksums fail but the file still parses): serve and `cdpctl profile` exit 1 naming
#   the file; the region opens again once the original file is back.
# - A truncated SST: refused the same way.
# - A wrong root key, from the root.key file and from CDP_ROOT_KEY; a malformed CDP_ROOT_KEY; a
#   root key file others can read: exit 1 with the reason; the right key through CDP_ROOT_KEY
#   (file removed) serves.
# Ciphertext changed inside a record that still passes RocksDB's checksums is refused by the
# AEAD: tests/store_test.c (byte flips) covers that layer.
set -u
. "$(dirname "$0")/support/server.sh"
srv_setup corrupt-store

srv_init "$work/data"
ingest_key=$(srv_key "$work/data" ingest eu --source web) || srv_abort "ingest key"
dpo_key=$(srv_key "$work/data" dpo eu) || srv_abort "dpo key"
srv_start "$work/data" || srv_abort "server start"
for i in $(seq 30); do
    request POST /v1/identify -u "$ingest_key:" -H 'Content-Type: application/json' \
        -d "{\"userId\":\"cs-$i\",\"messageId\":\"cs-m$i\",\"traits\":{\"email\":\"cs$i@example.org\",\"first_name\":\"Name$i\"},\"context\":{\"location\":{\"country\":\"DE\"}}}"
    [ "$status" = 200 ] || srv_abort "ingest cs-$i: HTTP $status"
done
srv_stop
# An erasure flushes the region's memtables into table files (its purge), so the people above
# are in SST files, not only in the WAL.
"$cdpctl" erase --data "$work/data" --id user_id:cs-30 >/dev/null 2>"$work/err" ||
    srv_abort "erase: $(cat "$work/err")"

# profile_reads: the CLI reads a person (exit status).
profile_reads() {
    "$cdpctl" profile --data "$work/data" --purpose legal_obligation --id user_id:cs-7 \
        >"$work/profile.out" 2>"$work/profile.err"
}
profile_reads
check control_profile_reads test $? = 0
check control_profile_has_data grep -q 'cs7@example.org' "$work/profile.out"
# Listed after the last successful open (an open may compact); the refused opens below change
# nothing.
mapfile -t tables < <(ls "$work/data/regions/eu/"*.sst 2>/dev/null)
[ "${#tables[@]}" -ge 2 ] && pass || fail tables_exist "only ${#tables[@]} SST files in eu"

# flip FILE: XORs 16 bytes in the middle of FILE.
flip() {
    python3 - "$1" <<'EOF'
import sys
path = sys.argv[1]
data = bytearray(open(path, 'rb').read())
middle = len(data) // 2
for i in range(middle, min(middle + 16, len(data))):
    data[i] ^= 0x5A
open(path, 'wb').write(bytes(data))
EOF
}

for table in "${tables[@]}"; do
    name=$(basename "$table")
    cp -p "$table" "$work/original.sst"
    flip "$table"
    if srv_start "$work/data"; then
        fail "serve_refuses_damaged_$name" "the server started"
        srv_stop
    else
        [ "$server_exit" = 1 ] && pass || fail "serve_exit_1_damaged_$name" "exit $server_exit"
        grep -q "table file $name: Corruption" "$work/server.err" && pass ||
            fail "serve_names_damaged_$name" "$(tail -1 "$work/server.err")"
        grep -q "restore it from a backup" "$work/server.err" && pass ||
            fail "serve_says_what_to_do_$name" "$(tail -1 "$work/server.err")"
    fi
    profile_reads
    code=$?
    [ "$code" = 1 ] && pass || fail "cli_refuses_damaged_$name" "cdpctl profile exited $code"
    grep -q "table file $name" "$work/profile.err" && pass ||
        fail "cli_names_damaged_$name" "$(cat "$work/profile.err")"
    grep -q 'cs7@example.org' "$work/profile.out" &&
        fail "cli_serves_nothing_$name" "profile printed" || pass
    cp -p "$work/original.sst" "$table"
done

# A truncated table file.
largest=$(ls -S "$work/data/regions/eu/"*.sst | head -1)
cp -p "$largest" "$work/original.sst"
truncate -s $(($(stat -c %s "$largest") / 2)) "$largest"
profile_reads
check cli_refuses_truncated_table test $? = 1
grep -q "$(basename "$largest")" "$work/profile.err" && pass ||
    fail cli_names_truncated_table "$(cat "$work/profile.err")"
cp -p "$work/original.sst" "$largest"

# Undamaged again: everything serves.
srv_start "$work/data" && pass || fail serve_after_repair "$(cat "$work/server.err")"
request GET /v1/profiles/user_id:cs-7 -H "Authorization: Bearer $dpo_key" \
    -H 'X-CDP-Purpose: legal_obligation'
expect read_after_repair 200
expect_body read_after_repair_has_data 'cs7@example.org'
srv_stop

# ---- root key --------------------------------------------------------------------------------

cp -p "$work/data/root.key" "$work/good.key"
good_hex=$(od -An -tx1 -v "$work/good.key" | tr -d ' \n')
[ ${#good_hex} = 64 ] || srv_abort "root key is not 32 bytes"
wrong_hex=$(head -c 32 /dev/urandom | od -An -tx1 -v | tr -d ' \n')

# refused NAME [env assignments...]: serve and profile both exit 1 and say why ($1 the check
# name, $2 the expected text of the message).
refused() {
    local name=$1 text=$2
    shift 2
    env "$@" "$cdpctl" serve --data "$work/data" --listen 127.0.0.1:0 >/dev/null \
        2>"$work/serve.err" &
    local pid=$!
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null
        fail "${name}_serve_refuses" "the server kept running"
    else
        wait "$pid"
        local code=$?
        [ "$code" = 1 ] && pass || fail "${name}_serve_exit_1" "exit $code"
        grep -qF -- "$text" "$work/serve.err" && pass ||
            fail "${name}_serve_message" "$(cat "$work/serve.err")"
    fi
    env "$@" "$cdpctl" profile --data "$work/data" --purpose legal_obligation \
        --id user_id:cs-7 >"$work/profile.out" 2>"$work/profile.err"
    local code=$?
    [ "$code" = 1 ] && pass || fail "${name}_cli_exit_1" "exit $code"
    grep -qF -- "$text" "$work/profile.err" && pass ||
        fail "${name}_cli_message" "$(cat "$work/profile.err")"
    [ -s "$work/profile.out" ] && fail "${name}_cli_prints_nothing" "stdout not empty" || pass
}

head -c 32 /dev/urandom >"$work/data/root.key"
chmod 600 "$work/data/root.key"
refused wrong_key_file "root key does not open it (wrong key"
cp -p "$work/good.key" "$work/data/root.key"
refused wrong_key_env "root key does not open it (wrong key" CDP_ROOT_KEY="$wrong_hex"
refused malformed_key_env "CDP_ROOT_KEY: expected 64 hex characters" CDP_ROOT_KEY=abc123
chmod 644 "$work/data/root.key"
refused readable_key_file "root.key"
chmod 600 "$work/data/root.key"

# The right key from the environment, with no key file on disk, serves.
rm "$work/data/root.key"
CDP_ROOT_KEY=$good_hex srv_start "$work/data" && pass ||
    fail right_key_env_serves "$(cat "$work/server.err")"
request GET /v1/profiles/user_id:cs-7 -H "Authorization: Bearer $dpo_key" \
    -H 'X-CDP-Purpose: legal_obligation'
expect right_key_env_reads 200
expect_body right_key_env_has_data 'cs7@example.org'
srv_stop
cp -p "$work/good.key" "$work/data/root.key"
srv_summary
