-- The same single-seat hold as the transaction the API falls back to (and ran for every hold
-- before the hold function): BEGIN, the fan's lock, the sale settings with the fan's count, the
-- claim with the hold, its items and the event in one statement, COMMIT. scripts/bench-holds
-- runs it beside hold.pgbench.sql and takes the faster of the two as the ceiling. Events go to
-- bench_outbox. pgbench reads ":word" as a variable even inside quotes, so the JSON below has a
-- space after every colon.
\set seat random(1, 100000)
\set fan random(1, 1000)
\set hold random(1, 1000000000000)
BEGIN;
SELECT pg_advisory_xact_lock(1752132708, hashtext('pgbench/fan-' || :fan));
SELECT seating, on_sale_from, on_sale_until, hold_minutes, max_seats_per_order, max_seats_per_fan, status,
       (SELECT COALESCE(SUM(quantity), 0) FROM holds
        WHERE performance_id = 'pgbench' AND fan_id = 'fan-' || :fan AND status = 'active' AND expires_at > now())
     + (SELECT COUNT(*) FROM tickets
        WHERE performance_id = 'pgbench' AND purchaser_id = 'fan-' || :fan AND status = 'valid') AS held_by_fan
  FROM sale_performances WHERE performance_id = 'pgbench';
WITH claimed AS (
  UPDATE performance_seats SET state = 'held', hold_id = 'h' || :hold
  WHERE performance_id = 'pgbench' AND seat_id IN ('s' || :seat) AND state = 'available' RETURNING seat_id, label, tier
), complete AS (
  SELECT 1 FROM (SELECT COUNT(*) AS n FROM claimed) c WHERE n = 1
), new_hold AS (
  INSERT INTO holds (id, performance_id, fan_id, tier, quantity, status, expires_at, created_at)
  SELECT 'h' || :hold, 'pgbench', 'fan-' || :fan, NULL, 1, 'active', now() + interval '5 minutes', now() FROM complete RETURNING id
), items AS (
  INSERT INTO hold_items (hold_id, performance_id, seat_id, active)
  SELECT 'h' || :hold, 'pgbench', seat_id, true FROM claimed WHERE EXISTS (SELECT 1 FROM complete)
), event AS (
  INSERT INTO bench_outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)
  SELECT 'e' || :hold, 'reservation.held', 'hold', 'h' || :hold,
         '{"expiresAt": "2026-11-21T10:05:00Z", "fanId": "fan-1", "holdId": "h1", "performanceId": "pgbench", "quantity": 1, "seatIds": ["s1"], "tier": null}',
         now(), 0
  FROM new_hold
)
SELECT seat_id, label, tier FROM claimed;
COMMIT;
