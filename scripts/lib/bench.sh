# Seeding through the public API for the benchmarks (scripts/bench-holds, scripts/bench-orders).
# Source it after servers.sh; needs $base (the server), $work and say().

bench_api() {  # bench_api METHOD PATH TOKEN [JSON]
  curl -fsS -X "$1" "$base$2" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' ${4:+-d "$4"}
}

bench_sign_in() {  # bench_sign_in EMAIL PASSWORD → access token
  curl -fsS "$base/v1/auth/signin" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"$2\"}" | jq -r .accessToken
}

# bench_seat_venue TOKEN ROWS SEATS_PER_ROW: a venue with one section of ROWS × SEATS_PER_ROW seats
# of tier R, and an event at it; sets $venue and $event.
bench_seat_venue() {
  venue=$(bench_api POST /v1/venues "$1" '{"name":"Stadium","address":"Seoul"}' | jq -r .id)
  awk -v rows="$2" -v seats="$3" 'BEGIN { for (r = 1; r <= rows; r++) for (s = 1; s <= seats; s++) printf "A,%d,%d,%d,%d,R\n", r, s, s, r }' \
    >"$work/seats.csv"
  curl -fsS -X PUT "$base/v1/venues/$venue/seatmap" -H "Authorization: Bearer $1" -H 'Content-Type: text/csv' \
    --data-binary @"$work/seats.csv" >/dev/null
  event=$(bench_api POST /v1/events "$1" \
    "{\"title\":\"Bench\",\"description\":\"\",\"artist\":\"Band\",\"category\":\"concert\",\"venueId\":\"$venue\"}" | jq -r .id)
}

bench_iso() {  # bench_iso SECONDS_FROM_NOW
  date -u -d "@$(( $(date -u +%s) + $1 ))" +%Y-%m-%dT%H:%M:%SZ
}

# bench_performance TOKEN EXTRA_JSON_FIELDS: a performance of $event on sale now, tier R at
# ${bench_price:-110000} won; prints its ID. EXTRA_JSON_FIELDS go into the body as they are (limits, standing tiers).
bench_performance() {
  bench_api POST "/v1/events/$event/performances" "$1" "{\"startsAt\":\"$(bench_iso 2592000)\",\"onSaleFrom\":\"$(bench_iso -3600)\",
    \"onSaleUntil\":\"$(bench_iso 2500000)\",\"prices\":[{\"tier\":\"R\",\"price\":{\"amount\":${bench_price:-110000},\"currency\":\"KRW\"}}],
    $2}" | jq -r .id
}

bench_publish() {  # bench_publish TOKEN
  bench_api POST "/v1/events/$event/publish" "$1" >/dev/null
}

# bench_fans COUNT TOKENS_FILE [USER_IDS_FILE]: signs up and signs in fan1…fanCOUNT@bench.example,
# writing one access token (and user ID) per line, in the same order.
bench_fans() {
  seq 1 "$1" | xargs -P 8 -I{} curl -fsS "$base/v1/auth/signup" -H 'Content-Type: application/json' \
    -d '{"email":"fan{}@bench.example","password":"correct horse battery","name":"Fan {}"}' -o /dev/null
  seq 1 "$1" | xargs -P 8 -I{} sh -c "curl -fsS '$base/v1/auth/signin' -H 'Content-Type: application/json' \
    -d '{\"email\":\"fan{}@bench.example\",\"password\":\"correct horse battery\"}' | jq -c '[.accessToken, .user.id]'" \
    >"$work/fans.json"
  jq -r '.[0]' "$work/fans.json" >"$2"
  [ -n "${3:-}" ] && jq -r '.[1]' "$work/fans.json" >"$3"
  return 0
}

# Where PostgreSQL's time went since the last reset: the busiest statements, then a reset.
# Only with BENCH_STATEMENTS set (PostgreSQL started with pg_stat_statements); needs $pg_url.
statements_report() {  # statements_report TITLE
  [ -n "${BENCH_STATEMENTS:-}" ] || return 0
  echo "PostgreSQL statements, $1 (total ms, calls, mean ms, rows):" >&2
  command psql -At -F ' | ' "$pg_url" -c "SELECT round(total_exec_time::numeric + total_plan_time::numeric, 0), calls,
      round(((total_exec_time + total_plan_time) / greatest(calls, 1))::numeric, 3), rows, left(regexp_replace(query, '\s+', ' ', 'g'), 110)
    FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 15" >&2
  command psql -q "$pg_url" -c "SELECT pg_stat_statements_reset()" >/dev/null
}

# pgbench's per-transaction log (-l): p50|p99 latency in ms from the files named by the glob.
pgbench_percentiles() {  # pgbench_percentiles FILE...
  cat "$@" | awk '{ print $3 }' | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f|%.1f", v[int(NR * 0.50)] / 1000, v[int(NR * 0.99)] / 1000 }'
}

# CPU seconds (user + system) used so far by these processes.
cpu_seconds() {  # cpu_seconds PID...
  local ticks=0 pid
  for pid in "$@"; do
    # A PostgreSQL backend may exit between listing and reading; it then counts nothing.
    ticks=$((ticks + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }'
}
postgres_pids() { pgrep -d ' ' -x postgres || true; }
