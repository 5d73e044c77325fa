#!/usr/bin/env bash
# Measures GET /api/v1/auth/verify with a valid key against the cheapest answer an HTTP server can give on this
# machine: nginx returning a fixed 200. Both get the same load, in alternating rounds (latchkey, nginx, latchkey,
# nginx, ...), so that whatever else the machine is doing weighs on both alike.
#
# Usage:
#   scripts/load-verify.sh [DURATION]        # DURATION of each round, as wrk takes it: 10s (default), 30s, 1m
#
# Environment:
#   ROUNDS=3        rounds per target
#   WARMUP=5s       one uncounted run against Latchkey first (JIT, caches, connections); 0 to skip
#   JAVA_OPTS=...   extra JVM options for the server (default: none, as `java -jar` runs it)
#   SCOPE=docs:read verify with ?scope=SCOPE, presenting a key created with that one scope (default: none, the
#                   user's primary key, plain verify)
#   PRESENT=valid   what Latchkey is sent: valid (one valid key, the default), many (KEYS distinct valid keys, one
#                   user each, presented round-robin by a wrk Lua script), unknown (a well-formed key that no user
#                   holds: answered 401 from the negative cache), malformed (a key that fails its checksum: 401
#                   without a lookup). For unknown and malformed, 401 is the expected answer, and any other status
#                   counts as a failure
#   KEYS=1000       how many keys PRESENT=many creates
#   LISTENER=http   where Latchkey is sent verify: http (its HTTP port, Jetty, which serves everything) or verify
#                   (the verify port, LATCHKEY_VERIFY_PORT, Netty, which serves verify only, with the default
#                   LATCHKEY_VERIFY_THREADS unless the caller sets it)
#   NGINX_WORKERS=1 nginx's worker_processes (a number, or auto): 1 by default, the fair comparison on a 2-core
#                   machine where wrk needs the other core
#
# Each round is `wrk -t1 -c32 --latency -d<DURATION>` with the key in an X-API-Key header. The script prints, per
# round, requests/s, wrk's average and 99th-percentile latency, the count of non-2xx answers (wrk's "Non-2xx or 3xx
# responses", which counts statuses of 400 and above), for Latchkey the verify answers whose status its own /metrics
# counted as other than the expected 200 or 401 ("unexpected") and the bytes its JVM allocated per request (from its
# /metrics too, so the scrape itself is in it: noise over millions of requests; "-" when /metrics could not be read),
# and socket errors; then the median requests/s of each target and the ratio latchkey/nginx of the medians.
#
# It needs java 17+, wrk, nginx (/usr/sbin/nginx or on the PATH) and curl. It uses app-http/target/latchkey.jar,
# building it (./mvnw -q -DskipTests package) only if it is missing. It starts the server on a new, empty data
# directory (the root key is read from the data/root.key that the first start writes), creates an account and a user
# through the admin API, starts nginx with a generated configuration, and stops both and removes every file it made
# when it exits, however it exits. Nothing listens on anything but 127.0.0.1.
#
# nginx runs with NGINX_WORKERS worker processes (default 1) and no access log: it is the ceiling, not a
# like-for-like contender.
set -euo pipefail

duration=${1:-10s}
rounds=${ROUNDS:-3}
warmup=${WARMUP:-5s}
present=${PRESENT:-valid}
key_count=${KEYS:-1000}
nginx_workers=${NGINX_WORKERS:-1}
listener=${LISTENER:-http}
verify_threads=${LATCHKEY_VERIFY_THREADS:-}
threads=1
connections=32

cd "$(dirname "$0")/.."
jar=app-http/target/latchkey.jar

for tool in java wrk curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "load-verify: $tool is missing (Debian: apt-get install ${tool/java/openjdk-17-jdk-headless})" >&2
        exit 1
    fi
done
nginx_bin=$(command -v nginx || true)
if [ -z "$nginx_bin" ] && [ -x /usr/sbin/nginx ]; then
    nginx_bin=/usr/sbin/nginx
fi
if [ -z "$nginx_bin" ]; then
    echo "load-verify: nginx is missing (Debian: apt-get install nginx)" >&2
    exit 1
fi
if ! [[ "$rounds" =~ ^[1-9][0-9]*$ ]]; then
    echo "load-verify: ROUNDS must be a positive integer, not '$rounds'" >&2
    exit 1
fi
if ! [[ "$present" =~ ^(valid|many|unknown|malformed)$ ]]; then
    echo "load-verify: PRESENT must be valid, many, unknown or malformed, not '$present'" >&2
    exit 1
fi
if ! [[ "$key_count" =~ ^[1-9][0-9]*$ ]]; then
    echo "load-verify: KEYS must be a positive integer, not '$key_count'" >&2
    exit 1
fi
if ! [[ "$listener" =~ ^(http|verify)$ ]]; then
    echo "load-verify: LISTENER must be http or verify, not '$listener'" >&2
    exit 1
fi
if ! [[ "$verify_threads" =~ ^([1-9][0-9]*)?$ ]]; then
    echo "load-verify: LATCHKEY_VERIFY_THREADS must be a positive integer, not '$verify_threads'" >&2
    exit 1
fi
if ! [[ "$nginx_workers" =~ ^([1-9][0-9]*|auto)$ ]]; then
    echo "load-verify: NGINX_WORKERS must be a positive integer or auto, not '$nginx_workers'" >&2
    exit 1
fi

if [ ! -f "$jar" ]; then
    echo "load-verify: $jar is missing; building it"
    ./mvnw -q -DskipTests package
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/load-verify.XXXXXX")
latchkey_pid=
nginx_pid=

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -TERM "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    if [ -n "$latchkey_pid" ] && kill -0 "$latchkey_pid" 2>/dev/null; then
        kill -TERM "$latchkey_pid" 2>/dev/null || true
        wait "$latchkey_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fails with the last lines of a log
die() {
    echo "load-verify: $1" >&2
    if [ -n "${2:-}" ] && [ -f "$2" ]; then
        tail -n 30 "$2" >&2
    fi
    exit 1
}

# --- Latchkey, on a fresh data directory and any free port

(
    # the server's settings come from here only, not from the caller's environment
    for variable in $(compgen -e | grep '^LATCHKEY_' || true); do
        unset "$variable"
    done
    export LATCHKEY_HTTP_HOST=127.0.0.1 LATCHKEY_HTTP_PORT=0 LATCHKEY_FS_DIR="$work/data"
    if [ "$listener" = verify ]; then
        export LATCHKEY_VERIFY_PORT=0
        [ -z "$verify_threads" ] || export LATCHKEY_VERIFY_THREADS="$verify_threads"
    fi
    # shellcheck disable=SC2086 # JAVA_OPTS is a list of options
    exec java ${JAVA_OPTS:-} -jar "$jar"
) >"$work/latchkey.log" 2>&1 &
latchkey_pid=$!

deadline=$((SECONDS + 60))
latchkey_port=
while [ -z "$latchkey_port" ]; do
    kill -0 "$latchkey_pid" 2>/dev/null || die "Latchkey exited while starting" "$work/latchkey.log"
    [ "$SECONDS" -lt "$deadline" ] || die "Latchkey did not log its port within 60 s" "$work/latchkey.log"
    latchkey_port=$(grep -v 'verify port' "$work/latchkey.log" | sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' | head -n 1 || true)
    if [ "$listener" = verify ] && [ -n "$latchkey_port" ]; then
        verify_port=$(sed -n 's/.*verify port listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$work/latchkey.log" | head -n 1)
        [ -n "$verify_port" ] || latchkey_port=
    fi
    [ -n "$latchkey_port" ] || sleep 0.1
done
latchkey=http://127.0.0.1:$latchkey_port
# where verify is sent (admin calls and /metrics always go to the HTTP port)
verify_url=$latchkey
[ "$listener" = verify ] && verify_url=http://127.0.0.1:$verify_port
until curl -fs -o /dev/null "$latchkey/health"; do
    [ "$SECONDS" -lt "$deadline" ] || die "Latchkey did not answer /health within 60 s" "$work/latchkey.log"
    sleep 0.1
done
[ -s "$work/data/root.key" ] || die "no $work/data/root.key after the first start" "$work/latchkey.log"
root_key=$(cat "$work/data/root.key")

# POST a JSON body with the root key; prints result.user_key of the answer
create() {
    local answer key
    answer=$(curl -s -H "X-API-Key: $root_key" -H 'Content-Type: application/json' -d "$2" "$latchkey$1")
    key=$(printf '%s' "$answer" | sed -n 's/.*"user_key":"\([^"]*\)".*/\1/p')
    [ -n "$key" ] || die "POST $1 answered: $answer"
    printf '%s' "$key"
}
create /api/v1/admin/accounts '{"account_id":"load","admin_user_id":"load-admin"}' >/dev/null
user_key=$(create /api/v1/admin/accounts/load/users '{"user_id":"load-user","role":"user"}')
path=/api/v1/auth/verify
if [ -n "${SCOPE:-}" ]; then
    [[ "$SCOPE" =~ ^[A-Za-z0-9_.:/*-]{1,64}$ ]] || die "SCOPE must be 1 to 64 characters of A-Z a-z 0-9 _ . : / * -, not '$SCOPE'"
    user_key=$(create /api/v1/admin/accounts/load/users/load-user/keys "{\"name\":\"load\",\"scopes\":[\"$SCOPE\"]}")
    path="$path?scope=$SCOPE"
fi
# what Latchkey is sent (nginx always gets the valid key: it answers 200 whatever it is sent)
latchkey_key=$user_key
expected=2xx
expected_status=200
case "$present" in
    many)
        : >"$work/keys.txt"
        for i in $(seq 1 "$key_count"); do
            create /api/v1/admin/accounts/load/users "{\"user_id\":\"load-user-$i\",\"role\":\"user\"}" >>"$work/keys.txt"
            echo >>"$work/keys.txt"
        done
        cat >"$work/keys.lua" <<LUA
local keys = {}
for line in io.lines("$work/keys.txt") do
    if line ~= "" then keys[#keys + 1] = line end
end
local next_key = 0
request = function()
    next_key = next_key % #keys + 1
    return wrk.format("GET", "$path", { ["X-API-Key"] = keys[next_key] })
end
LUA
        ;;
    unknown)
        # a key that existed: well formed, with a good checksum, held by nobody now
        latchkey_key=$(create /api/v1/admin/accounts/load/users '{"user_id":"load-removed","role":"user"}')
        curl -fs -o /dev/null -X DELETE -H "X-API-Key: $root_key" "$latchkey/api/v1/admin/accounts/load/users/load-removed" \
            || die "could not remove the user whose key is presented as unknown"
        expected=401
        expected_status=401
        ;;
    malformed)
        # the last character changed: the checksum fails
        last=${user_key: -1}
        if [ "$last" = A ]; then swap=B; else swap=A; fi
        latchkey_key=${user_key%?}$swap
        expected=401
        expected_status=401
        ;;
esac

# --- nginx answering a fixed 200, on a port free a moment ago (retried if another process takes it first)

mkdir -p "$work/nginx"
nginx_user=
if [ "$(id -u)" -eq 0 ]; then
    # as root the worker would run as nobody, who may not enter the private temporary directory
    nginx_user="user root;"
fi
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    nginx_port=$((20000 + RANDOM % 40000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null; then
        continue
    fi
    cat >"$work/nginx/nginx.conf" <<EOF
$nginx_user
worker_processes $nginx_workers;
error_log $work/nginx/error.log warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    client_body_temp_path $work/nginx/client_body_temp;
    proxy_temp_path $work/nginx/proxy_temp;
    fastcgi_temp_path $work/nginx/fastcgi_temp;
    uwsgi_temp_path $work/nginx/uwsgi_temp;
    scgi_temp_path $work/nginx/scgi_temp;
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            default_type application/json;
            return 200 '{"status":"ok"}';
        }
    }
}
EOF
    "$nginx_bin" -p "$work/nginx/" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" \
        -g "daemon off; pid $work/nginx/nginx.pid;" >"$work/nginx/out.log" 2>&1 &
    nginx_pid=$!
    deadline=$((SECONDS + 10))
    while kill -0 "$nginx_pid" 2>/dev/null && [ ! -s "$work/nginx/nginx.pid" ] && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.1
    done
    if [ -s "$work/nginx/nginx.pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        break
    fi
    if grep -q 'Address already in use' "$work/nginx/error.log" "$work/nginx/out.log" 2>/dev/null; then
        wait "$nginx_pid" 2>/dev/null || true
        nginx_pid=
        continue
    fi
    die "nginx did not start" "$work/nginx/error.log"
done
[ -n "$nginx_pid" ] || die "found no free port for nginx in 10 attempts"
nginx=http://127.0.0.1:$nginx_port

# --- the rounds

status=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $user_key" "$nginx$path")
[ "$status" = 200 ] || die "GET $nginx$path answered $status, not 200"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $latchkey_key" "$verify_url$path")
if [ "$expected" = 401 ]; then
    [ "$status" = 401 ] || die "GET $verify_url$path with the $present key answered $status, not 401"
else
    [ "$status" = 200 ] || die "GET $verify_url$path with the user's key answered $status, not 200"
fi

# runs wrk once; prints "requests/s latency p99 non-2xx socket-errors"
measure() {
    local output requests latency p99 non2xx total socket
    if [ "$1" = "$verify_url" ] && [ "$present" = many ]; then
        output=$(wrk -t"$threads" -c"$connections" -d"$2" --latency -s "$work/keys.lua" "$1$path")
    elif [ "$1" = "$verify_url" ]; then
        output=$(wrk -t"$threads" -c"$connections" -d"$2" --latency -H "X-API-Key: $latchkey_key" "$1$path")
    else
        output=$(wrk -t"$threads" -c"$connections" -d"$2" --latency -H "X-API-Key: $user_key" "$1$path")
    fi
    requests=$(printf '%s\n' "$output" | awk '/^Requests\/sec:/ { print $2 }')
    latency=$(printf '%s\n' "$output" | awk '$1 == "Latency" { print $2; exit }')
    p99=$(printf '%s\n' "$output" | awk '$1 == "99%" { print $2; exit }')
    non2xx=$(printf '%s\n' "$output" | awk -F': *' '/Non-2xx or 3xx responses/ { print $2 }')
    total=$(printf '%s\n' "$output" | awk '/requests in/ { print $1; exit }')
    socket=$(printf '%s\n' "$output" | sed -n 's/.*Socket errors: *//p')
    [ -n "$requests" ] || die "wrk printed no Requests/sec:
$output"
    printf '%s %s %s %s %s %s\n' "$requests" "${latency:--}" "${p99:--}" "${non2xx:-0}" "${total:-0}" "${socket:-none}"
}

# the server's own counters so far, from its /metrics: the bytes its JVM has allocated (Micrometer's
# jvm_gc_memory_allocated_bytes_total, which grows at each young collection: over a round of millions of requests the
# error is one young generation, a few percent), and how many verify answers had a status other than the expected one
# (wrk cannot tell a 401 from a 503). Prints "allocated unexpected", or "- -" when /metrics cannot be read.
counters() {
    { curl -fs --max-time 10 "$latchkey/metrics" || true; } | awk -v want="status=\"$expected_status\"" '
        /^jvm_gc_memory_allocated_bytes_total/ { allocated = $2; seen = 1 }
        /^http_server_requests_seconds_count[{]/ && index($0, "route=\"/api/v1/auth/verify\"") && !index($0, want) { other += $2 }
        END { if (seen) printf "%.0f %.0f\n", allocated, other; else print "- -" }'
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

sent="the $present key"
[ "$present" = many ] && sent="$key_count valid keys in turn"
echo "Latchkey $verify_url ($listener listener, pid $latchkey_pid, sent $sent), nginx $nginx (pid $nginx_pid, worker_processes $nginx_workers); wrk -t$threads -c$connections -d$duration --latency, $rounds rounds each, alternating"
if [ "$warmup" != 0 ]; then
    result=$(measure "$verify_url" "$warmup")
    read -r requests _ <<<"$result"
    echo "warm-up   latchkey  $warmup: $requests requests/s (not counted)"
fi
printf '%-6s %-9s %12s %10s %10s %8s %10s %10s  %s\n' round target requests/s latency p99 non-2xx unexpected B/request "socket errors"
latchkey_rates=()
nginx_rates=()
failed=0
for round in $(seq 1 "$rounds"); do
    for name in latchkey nginx; do
        if [ "$name" = latchkey ]; then target=$verify_url; else target=$nginx; fi
        [ "$name" = latchkey ] && read -r allocated_before unexpected_before <<<"$(counters)"
        result=$(measure "$target" "$duration")
        read -r requests latency p99 non2xx total socket <<<"$result"
        per_request=-
        unexpected=-
        if [ "$name" = latchkey ]; then
            read -r allocated_after unexpected_after <<<"$(counters)"
            if [ "$allocated_before" != - ] && [ "$allocated_after" != - ]; then
                unexpected=$((unexpected_after - unexpected_before))
                if [ "$total" -gt 0 ]; then
                    per_request=$(awk -v a="$allocated_after" -v b="$allocated_before" -v n="$total" 'BEGIN { printf "%.0f", (a - b) / n }')
                fi
            fi
        fi
        printf '%-6s %-9s %12s %10s %10s %8s %10s %10s  %s\n' "$round" "$name" "$requests" "$latency" "$p99" "$non2xx" "$unexpected" "$per_request" "$socket"
        if [ "$name" = latchkey ]; then latchkey_rates+=("$requests"); else nginx_rates+=("$requests"); fi
        if [ "$name" = latchkey ] && [ "$expected" = 401 ]; then
            # every answer must be the 401, which wrk counts among its non-2xx, and the server counted no other status
            # (a round of 503s would pass wrk's count); without /metrics that cannot be told
            if [ "$non2xx" != "$total" ] || [ "$unexpected" != 0 ]; then failed=1; fi
        elif [ "$non2xx" != 0 ] || { [ "$name" = latchkey ] && [ "$unexpected" != 0 ] && [ "$unexpected" != - ]; }; then
            failed=1
        fi
    done
done

latchkey_median=$(median "${latchkey_rates[@]}")
nginx_median=$(median "${nginx_rates[@]}")
ratio=$(awk -v l="$latchkey_median" -v n="$nginx_median" 'BEGIN { printf "%.3f", l / n }')
echo "median requests/s: latchkey $latchkey_median, nginx $nginx_median; ratio latchkey/nginx $ratio"
if [ "$failed" != 0 ]; then
    echo "load-verify: some answers were not the expected ones ($expected from Latchkey, 2xx from nginx): the figures above do not measure what they say" >&2
    exit 1
fi
