#!/usr/bin/env bash
# Load test: gunicorn with production settings on 127.0.0.1, PostgreSQL seeded with 1,000 partners
# and 100,000 tickets (bench/load_seed.py), 50 concurrent users for a bounded time (Locust), then
# the same 50 users on GET /ping (no database) on the same server: the framework's ceiling.
#
#   bash bench/load_test.sh [seconds per run, default 60] [gunicorn workers, default 4]
#
# Results: var/load/*.csv and one summary line per run; docs/benchmarks.md records them.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-60}"
WORKERS="${2:-4}"
PORT=8010
export PATH="$PWD/.venv/bin:$PATH"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/partnerportal_bench}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/3}"
export DEBUG=false SECRET_KEY="load-$(python -c 'import secrets; print(secrets.token_urlsafe(40))')"
export ALLOWED_HOSTS=127.0.0.1 SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false CSRF_COOKIE_SECURE=false
export API_THROTTLE_RATE=1000000/minute AXES_FAILURE_LIMIT=100000 LOG_LEVEL=WARNING
mkdir -p var/load

if [ "${SKIP_SEED:-}" != "1" ]; then
  python bench/load_seed.py
fi
python manage.py collectstatic --noinput -v 0
redis-cli -u "$REDIS_URL" flushdb > /dev/null  # the throttle counts and queued mail of earlier runs

gunicorn partnerportal.wsgi --bind "127.0.0.1:$PORT" --workers "$WORKERS" --log-level warning > var/load/gunicorn.log 2>&1 &
GUNICORN=$!
trap 'kill $GUNICORN 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$PORT/ping" > /dev/null && break; sleep 0.5; done

run() {  # name, user classes…
  local name=$1; shift
  locust -f bench/locustfile.py --headless --users 50 --spawn-rate 50 --run-time "${DURATION}s" \
    --host "http://127.0.0.1:$PORT" --csv "var/load/$name" --only-summary "$@" > "var/load/$name.log" 2>&1 || true
  python - "$name" <<'PY'
import csv, sys
name = sys.argv[1]
rows = {row["Name"]: row for row in csv.DictReader(open(f"var/load/{name}_stats.csv"))}
for key, row in rows.items():
    print(f"{name:<7} {key:<22} requests={int(row['Request Count']):>7}  failures={int(row['Failure Count']):>4}  "
          f"rps={float(row['Requests/s']):8.1f}  median={row['50%']:>5} ms  p99={row['99%']:>6} ms")
PY
}
run portal PartnerPerson Agent
run ping Ping
python - <<'PY'
import csv
def rows(name):
    return [row for row in csv.DictReader(open(f"var/load/{name}_stats.csv")) if row["Name"] != "Aggregated"]
def rps(rows):
    return sum(float(row["Requests/s"]) for row in rows)
# Each simulated person signs in once, at the start; sign-ins (PBKDF2, slow by design) are their own row.
portal = [row for row in rows("portal") if not row["Name"].startswith("sign in")]
sign_ins = [row for row in rows("portal") if row["Name"] == "sign in"]
print(f"sign-ins: {sum(int(r['Request Count']) for r in sign_ins)} at {rps(sign_ins):.1f}/s (measured apart from pages)")
print(f"ratio portal pages/ping requests per second = {rps(portal) / rps(rows('ping')):.3f}")
PY
