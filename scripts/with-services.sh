#!/usr/bin/env bash
# Run a command with PostgreSQL and Redis available, exporting DATABASE_URL and REDIS_URL.
# Order: the URLs already set; else the local services on 127.0.0.1 (5432, 6379); else throw-away servers
# started here from the installed binaries (installed with apt when root and missing), stopped afterwards.
set -euo pipefail
tmp=""
runas=()  # initdb/pg_ctl refuse to run as root: the throw-away cluster belongs to the postgres user then
cleanup() {
  if [ -n "$tmp" ]; then
    [ -f "$tmp/pg/postmaster.pid" ] && "${runas[@]}" "$PG_BIN/pg_ctl" -D "$tmp/pg" -m fast -w stop >/dev/null 2>&1 || true
    [ -f "$tmp/redis.pid" ] && kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "with-services: installing $* with apt" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "with-services: $* missing and cannot install (not root)" >&2; exit 1
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ -z "${DATABASE_URL:-}" ]; then
  if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
    export DATABASE_URL="postgresql://postgres@127.0.0.1:5432/postgres"
  else
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -z "$PG_BIN" ]; then apt_install postgresql; PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); fi
    tmp=${tmp:-$(mktemp -d)}; chmod 755 "$tmp"
    port=$(free_port)
    [ "$(id -u)" = 0 ] && { chown -R postgres "$tmp" 2>/dev/null || true; runas=(runuser -u postgres --); }
    "${runas[@]}" "$PG_BIN/initdb" -D "$tmp/pg" -U postgres -A trust >/dev/null
    "${runas[@]}" "$PG_BIN/pg_ctl" -D "$tmp/pg" -o "-p $port -k $tmp -c listen_addresses=127.0.0.1" -w -l "$tmp/pg.log" start >/dev/null
    export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
    echo "with-services: started a throw-away PostgreSQL on port $port" >&2
  fi
fi

if [ -z "${REDIS_URL:-}" ]; then
  if command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    export REDIS_URL="redis://127.0.0.1:6379/0"
  else
    command -v redis-server >/dev/null || apt_install redis-server
    tmp=${tmp:-$(mktemp -d)}
    port=$(free_port)
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
      --dir "$tmp" --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    export REDIS_URL="redis://127.0.0.1:$port/0"
    echo "with-services: started a throw-away Redis on port $port" >&2
  fi
fi

# The browser tests (tests/browser) drive Debian's Chromium by path; Playwright never downloads a browser.
[ -x /usr/bin/chromium ] || apt_install chromium

"$@"
