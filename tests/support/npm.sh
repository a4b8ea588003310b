# The Node.js clients of the tests (tests/clients: the Segment and RudderStack SDKs, avsc,
# @iabtcf/core, playwright-core), installed once per lock file. Sourced by the shell tests that
# drive them.
#
# clients_npm_install CLIENTS WORK: makes CLIENTS/node_modules what package.json and
# package-lock.json pin. node_modules is fresh when the hash of both files matches the one stamped
# at the last install; one install at a time (two builds' ctest runs may share the source tree).
# Returns 0 when ready, 3 when an install is needed but the npm registry is unreachable, 1 when
# the install failed; WORK/npm.log holds npm's output.
clients_npm_install() {
    local clients=$1 work=$2 stamp status=0
    local npm_flags=(--no-audit --no-fund --ignore-scripts --loglevel=error)
    stamp=$(cat "$clients/package.json" "$clients/package-lock.json" 2>/dev/null | sha256sum | cut -c1-32)
    exec 9>"/tmp/cdp-sdk-clients-npm.lock"
    if ! flock -w 300 9; then
        echo "another npm install in $clients holds the lock for 5 minutes" >"$work/npm.log"
        return 1
    fi
    if [ "$(cat "$clients/node_modules/.cdp-stamp" 2>/dev/null)" != "$stamp" ]; then
        if ! timeout 20 npm ping --fetch-retries=0 --fetch-timeout=15000 --loglevel=error \
            >"$work/npm.log" 2>&1; then
            status=3
        elif [ ! -f "$clients/package-lock.json" ]; then
            (cd "$clients" && timeout 300 npm install "${npm_flags[@]}") >"$work/npm.log" 2>&1 ||
                status=1
        elif ! (cd "$clients" && timeout 300 npm ci "${npm_flags[@]}") >"$work/npm.log" 2>&1; then
            # npm ci refuses a lock that lacks other platforms' optional packages (darwin, win32
            # builds of msgpackr-extract), which is what a registry mirror serving only Linux
            # packages produces. npm install installs the same locked versions; the lock is kept
            # byte for byte. (--ignore-scripts: nothing here needs a build step.)
            if grep -q 'EUSAGE' "$work/npm.log"; then
                cp "$clients/package-lock.json" "$work/package-lock.json"
                (cd "$clients" && timeout 300 npm install "${npm_flags[@]}") >"$work/npm.log" 2>&1 ||
                    status=1
                cmp -s "$work/package-lock.json" "$clients/package-lock.json" ||
                    cp "$work/package-lock.json" "$clients/package-lock.json"
            else
                status=1
            fi
        fi
        [ "$status" = 0 ] && echo "$stamp" >"$clients/node_modules/.cdp-stamp"
    fi
    flock -u 9
    return "$status"
}
