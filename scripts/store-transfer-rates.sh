#!/usr/bin/env bash
# Measures `store export` and `store import` with a synthetic store: ACCOUNTS accounts of USERS users, each user with
# a primary key and four more (names, scopes, expiry): 100 x 200 x 5 = 100,000 keys by default. The file is
# generated (random key ids and hashes: the rates are the point, not the keys), imported into a filesystem store,
# exported from it, then imported into H2 and, if PG_URL is set, PostgreSQL, and exported from each; last, the
# exports are compared (all equal but the header line).
#
# Usage:
#   scripts/store-transfer-rates.sh
#
# Environment:
#   ACCOUNTS=100 USERS=200   the size of the store
#   THREADS=8                --threads of the imports
#   PG_URL=jdbc:postgresql://127.0.0.1:5432/latchkey PG_USER=postgres
#                            an empty PostgreSQL database to import into (default: none, PostgreSQL is skipped)
#
# It needs java 17+ and python3. It uses app-http/target/latchkey.jar (build it first: ./mvnw -q -DskipTests
# package), works in a new temporary directory, and removes it when it exits.
set -euo pipefail

accounts=${ACCOUNTS:-100}
users=${USERS:-200}
threads=${THREADS:-8}
jar=$(cd "$(dirname "$0")/.." && pwd)/app-http/target/latchkey.jar
[[ -f $jar ]] || { echo "no $jar: build it first (./mvnw -q -DskipTests package)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

python3 - "$accounts" "$users" export.jsonl <<'PY'
import json, random, string, sys
random.seed(7)
b62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
accounts, users, out = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3], 'w')
def key_id(): return ''.join(random.choice(b62) for _ in range(16))
def digest(): return ''.join(random.choice('0123456789abcdef') for _ in range(64))
def write(record): out.write(json.dumps(record, separators=(',', ':')) + '\n')
write({"type": "header", "format": "latchkey-store-export", "version": 1, "exported_at": "2026-12-02T22:00:00Z", "source": "synthetic"})
keys = 0
for a in range(accounts):
    account = "account-%d" % a
    write({"type": "account", "account_id": account, "created_at": "2026-12-01T00:00:00Z", "admin_required": True})
    for u in range(users):
        user, primary = "user-%d" % u, key_id()
        write({"type": "user", "account_id": account, "user_id": user, "role": "admin" if u == 0 else "user", "created_at": "2026-12-01T01:00:00Z", "primary_key_id": primary})
        write({"type": "key", "key_id": primary, "account_id": account, "user_id": user, "secret_hash": digest(), "created_at": "2026-12-01T01:00:00Z", "primary": True, "scopes": ["*"]})
        for k in range(4):
            write({"type": "key", "key_id": key_id(), "account_id": account, "user_id": user, "secret_hash": digest(), "created_at": "2026-12-01T02:00:00Z",
                   "name": "key %d" % k, "primary": False, "scopes": ["docs:read"], "expires_at": "2030-06-01T00:00:00Z"})
        keys += 5
write({"type": "end", "accounts": accounts, "users": accounts * users, "keys": keys})
PY

timed() {
    local name=$1; shift
    local start end
    start=$(date +%s.%N)
    "$@" 2> last.err
    end=$(date +%s.%N)
    printf '%-22s %8.1f s   %s\n' "$name" "$(echo "$end - $start" | bc)" "$(tail -1 last.err)"
}
latchkey() { java -Xmx512m -jar "$jar" "$@"; }

echo "$(nproc) vCPU, $(java -version 2>&1 | head -1); $(wc -l < export.jsonl) lines; times include the JVM start"
LATCHKEY_FS_DIR=fs timed "filesystem import" latchkey store import --in export.jsonl --threads "$threads"
LATCHKEY_FS_DIR=fs timed "filesystem export" latchkey store export --out fs.jsonl
h2="jdbc:h2:file:$work/h2/latchkey"
LATCHKEY_STORE=jdbc LATCHKEY_JDBC_URL=$h2 timed "H2 import" latchkey store import --in fs.jsonl --threads "$threads"
LATCHKEY_STORE=jdbc LATCHKEY_JDBC_URL=$h2 timed "H2 export" latchkey store export --out h2.jsonl
exports=(h2.jsonl)
if [[ -n ${PG_URL:-} ]]; then
    LATCHKEY_STORE=jdbc LATCHKEY_JDBC_URL=$PG_URL LATCHKEY_JDBC_USER=${PG_USER:-postgres} timed "PostgreSQL import" latchkey store import --in fs.jsonl --threads "$threads"
    LATCHKEY_STORE=jdbc LATCHKEY_JDBC_URL=$PG_URL LATCHKEY_JDBC_USER=${PG_USER:-postgres} timed "PostgreSQL export" latchkey store export --out pg.jsonl
    exports+=(pg.jsonl)
fi
for file in "${exports[@]}"; do
    cmp -s <(tail -n +2 fs.jsonl) <(tail -n +2 "$file") && echo "$file equals the filesystem export" || { echo "$file DIFFERS from the filesystem export"; exit 1; }
done
