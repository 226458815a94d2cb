# Throwaway servers on loopback for scripts/test and scripts/bench. Source it, then call
# start_postgres / start_redis; stop_servers (run it from an EXIT trap) stops them and
# removes their data. Needs $work (a temp dir) and say().

install_packages() {
  if [ "$(id -u)" -ne 0 ]; then
    say "missing $*; install them (e.g. sudo apt-get install $*) and run again"
    exit 1
  fi
  say "installing $* with apt-get"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

postgres_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; fi
}

# A port nothing listens on, below Linux's ephemeral range (32768 and up by default), so an
# outgoing connection cannot be holding it when a server binds it.
free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((15000 + RANDOM % 17000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  say "no free port found"; exit 1
}

# PostgreSQL refuses to run as root: run it as an unprivileged user.
# Waits (up to 30 s) until something listens on the port.
wait_for_port() {  # port [log file to show if nothing comes]
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  say "nothing listens on port $1"
  [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 20 "$2" >&2
  return 1
}

run_pg() { "$@"; }
pg_user=""
if [ "$(id -u)" -eq 0 ]; then
  pg_user=postgres
  if ! id "$pg_user" >/dev/null 2>&1; then
    pg_user=boxoffice-test
    id "$pg_user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
  fi
  run_pg() { runuser -u "$pg_user" -- "$@"; }
fi

# start_postgres [extra server options…]: sets pg_dir, pg_port and pg_url (database postgres).
start_postgres() {
  pg_dir=$(postgres_bin)
  if [ -z "$pg_dir" ]; then install_packages postgresql; pg_dir=$(postgres_bin); fi
  pg_port=$(free_port)
  mkdir -p "$work/pg"
  chmod 755 "$work"
  [ -n "$pg_user" ] && chown "$pg_user" "$work/pg"
  say "starting PostgreSQL ($pg_dir) on 127.0.0.1:$pg_port"
  run_pg "$pg_dir/initdb" -D "$work/pg/data" -U postgres --auth=trust -E UTF8 --no-locale >"$work/pg/initdb.log" 2>&1 \
    || { cat "$work/pg/initdb.log" >&2; exit 1; }
  run_pg "$pg_dir/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -p $pg_port -k $work/pg $*" >/dev/null \
    || { cat "$work/pg/server.log" >&2; exit 1; }
  pg_url="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"
}

# start_redis: sets redis_port and redis_url.
start_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then install_packages redis-server; fi
  redis_port=$(free_port)
  mkdir -p "$work/redis"
  say "starting Redis on 127.0.0.1:$redis_port"
  redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize yes \
    --dir "$work/redis" --pidfile "$work/redis/redis.pid" --logfile "$work/redis/redis.log" >/dev/null
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break
    sleep 0.1
  done
  redis_url="redis://127.0.0.1:$redis_port"
}

stop_servers() {
  if [ -n "${pg_dir:-}" ] && [ -d "$work/pg/data" ]; then
    run_pg "$pg_dir/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -f "$work/redis/redis.pid" ]; then kill "$(cat "$work/redis/redis.pid")" 2>/dev/null || true; fi
}
