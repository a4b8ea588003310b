#!/usr/bin/env bash
# The one door, proved from the compiled objects rather than from comments: no object of the
# public API layer (cdp/api), the HTTP server (cdp/http) or the CLI (tools/cdpctl) references a
# function that reads or writes a personal-data column family (store, vault, iterators,
# batches, record codecs, identity resolution, consent records, erasure internals). They reach
# personal data only through cdp/access, which decides and audits. A new call that bypasses it
# fails this test. Also checks the layer rule of DESIGN.md: cdp/http includes no store or crypto
# header.
set -u
build=${CDP_BUILD_DIR:?CDP_BUILD_DIR not set}
source_dir=${CDP_SOURCE_DIR:?CDP_SOURCE_DIR not set}
failures=0

# Functions that move personal data or open its column families.
forbidden='^cdp_(vault_(get|put|open|get_person_record|load_person|create_person|blind)|region_(get|multi_get|iter|write|write_batch)|batch_(put|delete|delete_range|merge)|iter_[a-z_]+|identity_(ingest|lookup|unmerge|put_merge_record)|(profile|event|consent|merge)_record_(decode|encode)|consent_(put|current|history|read)[a-z_]*|privacy_[a-z_]+|retention_sweep_region|erase_person[a-z_]*|subject_export_write[a-z_]*)$'

checked=0
check_objects() { # DIR_IN_SOURCE OBJECT_DIR
    local rel=$1 objdir=$2
    for source in "$source_dir/$rel"/*.c; do
        [ -e "$source" ] || continue
        local object="$objdir/$rel/$(basename "$source").o"
        if [ ! -f "$object" ]; then
            echo "FAIL: no object for $rel/$(basename "$source") at $object (build first)"
            failures=$((failures + 1))
            continue
        fi
        checked=$((checked + 1))
        local hits
        hits=$(nm -u "$object" | awk '{print $NF}' | grep -E "$forbidden" | tr '\n' ' ')
        if [ -n "$hits" ]; then
            echo "FAIL: $rel/$(basename "$source") reaches personal data without cdp/access: $hits"
            failures=$((failures + 1))
        fi
    done
}

check_objects cdp/api "$build/CMakeFiles/cdp.dir"
check_objects cdp/http "$build/CMakeFiles/cdp.dir"
check_objects tools/cdpctl "$build/CMakeFiles/cdpctl.dir"

# The check itself must be able to fail: cdp/access's own objects do reference these functions.
access_hits=$(nm -u "$build/CMakeFiles/cdp.dir/cdp/access/read.c.o" | awk '{print $NF}' |
    grep -cE "$forbidden")
if [ "$access_hits" -lt 3 ]; then
    echo "FAIL: the pattern no longer matches what cdp/access/read.c uses ($access_hits hits)"
    failures=$((failures + 1))
fi

# Layers: the HTTP server goes through the public API only.
if grep -nE '#include "(store|crypto|identity|consent|privacy|access)/' "$source_dir"/cdp/http/*.c \
    "$source_dir"/cdp/http/*.h; then
    echo "FAIL: cdp/http includes a layer below the public API"
    failures=$((failures + 1))
fi

if [ "$checked" -lt 10 ]; then
    echo "FAIL: only $checked objects checked"
    failures=$((failures + 1))
fi
if [ "$failures" -ne 0 ]; then
    echo "layering_test: $failures failure(s)"
    exit 1
fi
echo "layering_test: $checked objects of cdp/api, cdp/http and tools/cdpctl reach personal data only through cdp/access"
