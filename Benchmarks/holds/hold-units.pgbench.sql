-- One general-admission hold of one unit, as the API runs it on PostgreSQL: one call to
-- reservations_hold_units (the fan's lock and the sale rules, the tier's row and counts, the
-- hold and its event), against a tier of 100,000 units. scripts/bench-holds copies the function
-- as bench_hold_units, writing its events to bench_outbox. pgbench reads ":word" as a variable
-- even inside quotes, so the JSON below has a space after every colon.
\set fan random(1, 1000)
\set hold random(1, 1000000000000)
SELECT outcome, held_until, units_left
  FROM bench_hold_units('g' || :hold, 'pgbench-ga', 'fan-' || :fan, 'Standing', 1, now(), 1752132708,
    'e' || :hold, 'reservation.held', 'hold',
    '{"expiresAt": "2026-11-21T10:05:00Z", "fanId": "fan-1", "holdId": "g1", "performanceId": "pgbench-ga", "quantity": 1, "seatIds": [], "tier": "Standing"}',
    now());
