# Shared by scripts/setup, run, test, worker and bench: paths, the private
# PostgreSQL cluster and Redis. Sourced, never executed.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR_DIR="${COLLECTIONS_VAR_DIR:-$ROOT/.var}"          # git-ignored state: cluster, logs, filestore
VENV="${COLLECTIONS_VENV:-$ROOT/.venv}"
ODOO_SRC="${ODOO_SRC:-${XDG_CACHE_HOME:-$HOME/.cache}/odoo/18.0}"
PG_PORT="${COLLECTIONS_PG_PORT:-55432}"
PG_USER="${COLLECTIONS_PG_USER:-odoo}"
PG_DATA="$VAR_DIR/pgdata"
PG_LOG="$VAR_DIR/log/postgresql.log"
REDIS_PORT="${COLLECTIONS_REDIS_PORT:-56379}"
PY="$VENV/bin/python"
ODOO_BIN="$ODOO_SRC/odoo-bin"
ADDONS_PATH="$ODOO_SRC/odoo/addons,$ROOT/addons"
OUR_ADDONS="collections_omni,collections_portal,collections_whatsapp"

export PGHOST=127.0.0.1 PGPORT="$PG_PORT" PGUSER="$PG_USER"
export COLLECTIONS_REDIS_URL="${COLLECTIONS_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

pg_bindir() {
    local d
    for d in "${COLLECTIONS_PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
        [ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return 0; }
    return 1
}

# PostgreSQL refuses to run as root: as root the cluster belongs to the
# 'postgres' system user, otherwise to whoever runs the scripts.
as_pg_owner() {
    if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_running() { [ -f "$PG_DATA/postmaster.pid" ] && as_pg_owner "$(pg_bindir)/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

pg_start() {
    local bindir; bindir="$(pg_bindir)" || die "PostgreSQL server binaries not found (install Debian's postgresql)"
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        say "Creating the project's PostgreSQL cluster in $PG_DATA (port $PG_PORT)"
        mkdir -p "$PG_DATA" "$VAR_DIR/log" "$VAR_DIR/run"
        if is_root; then
            # The postgres user must be able to reach the data folder.
            local d="$VAR_DIR"
            while [ "$d" != "/" ]; do
                runuser -u postgres -- test -x "$d" 2>/dev/null || chmod o+x "$d"
                d="$(dirname "$d")"
            done
            chown -R postgres: "$PG_DATA" "$VAR_DIR/log" "$VAR_DIR/run"
        fi
        as_pg_owner "$bindir/initdb" -D "$PG_DATA" -U "$PG_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null \
            || die "initdb failed"
        local wal_compression=on  # lz4 (cheaper than pglz) from PostgreSQL 15
        [ "$("$bindir/postgres" --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')" -ge 15 ] && wal_compression=lz4
        cat >>"$PG_DATA/postgresql.conf" <<CONF
# collections: a private cluster on loopback only
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$VAR_DIR/run'
fsync = ${COLLECTIONS_PG_FSYNC:-on}
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
max_connections = 200
# Large batches (reconciling 10,000 statement lines writes some 300 MB of WAL, mostly full-page
# images): compressed, and checkpoints spaced out so that one batch does not trigger several.
wal_compression = $wal_compression
max_wal_size = 4GB
checkpoint_timeout = 15min
CONF
    fi
    if ! pg_running; then
        if (exec 3<>"/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null; then
            die "port $PG_PORT is taken by another server; set COLLECTIONS_PG_PORT to a free port"
        fi
        mkdir -p "$VAR_DIR/log"; is_root && chown postgres: "$VAR_DIR/log"
        as_pg_owner "$bindir/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null \
            || die "PostgreSQL did not start; see $PG_LOG"
    fi
}

pg_stop() { pg_running && as_pg_owner "$(pg_bindir)/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null; true; }

redis_running() { "$(command -v redis-cli || echo false)" -p "$REDIS_PORT" ping >/dev/null 2>&1; }

redis_start() {
    command -v redis-server >/dev/null || die "redis-server not found (install Debian's redis-server)"
    redis_running && return 0
    mkdir -p "$VAR_DIR/redis" "$VAR_DIR/log"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$VAR_DIR/redis" --daemonize yes \
        --pidfile "$VAR_DIR/run/redis.pid" --logfile "$VAR_DIR/log/redis.log" --save '' --appendonly no >/dev/null
    for _ in $(seq 50); do redis_running && return 0; sleep 0.1; done
    die "Redis did not start; see $VAR_DIR/log/redis.log"
}

redis_stop() { redis_running && redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1; true; }

# Odoo command line shared by run, test and the demo loader.
odoo_cmd() {
    echo "$PY" "$ODOO_BIN" -c "$ROOT/odoo.conf" --addons-path="$ADDONS_PATH" \
        --db_host=127.0.0.1 --db_port="$PG_PORT" --db_user="$PG_USER" --data-dir="$VAR_DIR/filestore"
}

ensure_setup() {
    if [ ! -f "$VENV/.collections-setup-ok" ] || [ "$ROOT/requirements.txt" -nt "$VENV/.collections-setup-ok" ] \
        || [ ! -f "$ODOO_SRC/odoo-bin" ]; then
        "$ROOT/scripts/setup" || exit 1
    fi
}
