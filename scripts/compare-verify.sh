#!/usr/bin/env bash
# Compares two builds of Latchkey on GET /api/v1/auth/verify, side by side: both servers run at once (each on its
# own fresh data directory), and wrk loads one, then the other, in alternating rounds, so that whatever else the
# machine is doing weighs on both alike. For a change to the verify path: the jar before it and the jar after it.
#
# Usage:
#   scripts/compare-verify.sh JAR_A JAR_B [ROUNDS] [DURATION]     # ROUNDS per jar (default 6), DURATION each (6s)
#
# Environment:
#   LISTENER=verify  verify on the verify port (LATCHKEY_VERIFY_PORT, the default here) or on the http port
#   JAVA_OPTS=...    extra JVM options for both servers
#
# Each round is `wrk -t1 -c32 --latency` with one valid key (a user's primary key) in X-API-Key, after an uncounted
# 8 s warm-up of each server. It prints each round's requests/s, 99th percentile and non-2xx count for A and B,
# then the median requests/s of each and the ratio B/A. It needs java 17+, wrk and curl, listens on 127.0.0.1 only,
# and stops both servers and removes its files when it exits, however it exits.
set -euo pipefail

if [ $# -lt 2 ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
fi
jar_a=$1
jar_b=$2
rounds=${3:-6}
duration=${4:-6s}
listener=${LISTENER:-verify}
for jar in "$jar_a" "$jar_b"; do
    [ -f "$jar" ] || { echo "compare-verify: no such jar: $jar" >&2; exit 1; }
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "compare-verify: ROUNDS must be a positive integer, not '$rounds'" >&2; exit 1; }
[[ "$listener" =~ ^(verify|http)$ ]] || { echo "compare-verify: LISTENER must be verify or http, not '$listener'" >&2; exit 1; }
for tool in java wrk curl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "compare-verify: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/compare-verify.XXXXXX")
pids=()
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
    echo "compare-verify: $1" >&2
    [ -z "${2:-}" ] || tail -n 20 "$2" >&2
    exit 1
}

# start NAME JAR: the server on any free ports; sets http_port and verify_port
start() {
    (
        for variable in $(compgen -e | grep '^LATCHKEY_' || true); do
            unset "$variable"
        done
        export LATCHKEY_HTTP_HOST=127.0.0.1 LATCHKEY_HTTP_PORT=0 LATCHKEY_VERIFY_PORT=0 LATCHKEY_FS_DIR="$work/$1"
        # shellcheck disable=SC2086 # JAVA_OPTS is a list of options
        exec java ${JAVA_OPTS:-} -jar "$2"
    ) >"$work/$1.log" 2>&1 &
    pids+=($!)
    local pid=$! deadline=$((SECONDS + 60))
    http_port= verify_port=
    while [ -z "$http_port" ] || [ -z "$verify_port" ]; do
        kill -0 "$pid" 2>/dev/null || die "server $1 exited while starting" "$work/$1.log"
        [ "$SECONDS" -lt "$deadline" ] || die "server $1 did not log its ports within 60 s" "$work/$1.log"
        http_port=$(grep -v 'verify port' "$work/$1.log" | sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' | head -n 1 || true)
        verify_port=$(sed -n 's/.*verify port listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$work/$1.log" | head -n 1 || true)
        [ -n "$verify_port" ] || sleep 0.1
    done
    until curl -fs -o /dev/null "http://127.0.0.1:$http_port/health"; do
        [ "$SECONDS" -lt "$deadline" ] || die "server $1 did not answer /health within 60 s" "$work/$1.log"
        sleep 0.1
    done
}

# user_key NAME: creates an account and a user through the admin API; prints the user's key
user_key() {
    local root answer key
    root=$(cat "$work/$1/root.key")
    curl -fs -o /dev/null -H "X-API-Key: $root" -H 'Content-Type: application/json' \
        -d '{"account_id":"load","admin_user_id":"load-admin"}' "http://127.0.0.1:$http_port/api/v1/admin/accounts"
    answer=$(curl -s -H "X-API-Key: $root" -H 'Content-Type: application/json' \
        -d '{"user_id":"load-user","role":"user"}' "http://127.0.0.1:$http_port/api/v1/admin/accounts/load/users")
    key=$(printf '%s' "$answer" | sed -n 's/.*"user_key":"\([^"]*\)".*/\1/p')
    [ -n "$key" ] || die "registering a user on $1 answered: $answer"
    printf '%s' "$key"
}

start a "$jar_a"
port_a=$([ "$listener" = verify ] && echo "$verify_port" || echo "$http_port")
key_a=$(user_key a)
start b "$jar_b"
port_b=$([ "$listener" = verify ] && echo "$verify_port" || echo "$http_port")
key_b=$(user_key b)

# round PORT DURATION KEY: prints requests/s, p99 and non-2xx
round() {
    wrk -t1 -c32 -d"$2" --latency -H "X-API-Key: $3" "http://127.0.0.1:$1/api/v1/auth/verify" |
        awk '/Requests\/sec/ {rate = $2} /Non-2xx/ {bad = $NF} / 99%/ {p99 = $2} END {printf "%s %s %s\n", rate, p99, (bad == "" ? 0 : bad)}'
}
median() {
    printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}

echo "A $jar_a, B $jar_b: $listener port, wrk -t1 -c32 -d$duration, $rounds rounds each, alternating"
round "$port_a" 8s "$key_a" >/dev/null
round "$port_b" 8s "$key_b" >/dev/null
rates_a=()
rates_b=()
printf '%-6s %-28s %-28s\n' round "A req/s  p99  non-2xx" "B req/s  p99  non-2xx"
for i in $(seq 1 "$rounds"); do
    a=$(round "$port_a" "$duration" "$key_a")
    b=$(round "$port_b" "$duration" "$key_b")
    printf '%-6s %-28s %-28s\n' "$i" "$a" "$b"
    rates_a+=("${a%% *}")
    rates_b+=("${b%% *}")
done
median_a=$(median "${rates_a[@]}")
median_b=$(median "${rates_b[@]}")
echo "median requests/s: A $median_a, B $median_b; ratio B/A $(awk -v a="$median_a" -v b="$median_b" 'BEGIN {printf "%.3f", b / a}')"
