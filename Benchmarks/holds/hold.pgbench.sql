-- The SQL of one single-seat hold, as the API runs it, against a performance of 100,000 seats
-- ('s1'…'s100000'). The claim and the inserts that depend on it are one statement with CTEs,
-- so a losing attempt writes nothing, like the API's rollback. Events go to bench_outbox (same
-- shape as outbox) so the running relay does not deliver them. pgbench reads ":word" as a variable
-- even inside quotes, so the JSON below has a space after every colon.
\set seat random(1, 100000)
\set fan random(1, 1000)
\set hold random(1, 1000000000000)
BEGIN;
SELECT pg_advisory_xact_lock(1752132708, hashtext('pgbench/fan-' || :fan));
SELECT seating, on_sale_from, on_sale_until, hold_minutes, max_seats_per_order, max_seats_per_fan, status,
       (SELECT COALESCE(SUM(quantity), 0) FROM holds
        WHERE performance_id = 'pgbench' AND fan_id = 'fan-' || :fan
          AND (status = 'confirmed' OR (status = 'active' AND expires_at > now()))) AS held_by_fan
  FROM sale_performances WHERE performance_id = 'pgbench';
UPDATE holds SET status = 'expired', ended_at = now()
  WHERE status = 'active' AND expires_at <= now()
    AND id IN (SELECT hold_id FROM performance_seats WHERE performance_id = 'pgbench' AND seat_id IN ('s' || :seat) AND state = 'held')
  RETURNING id, performance_id, fan_id, tier, quantity;
WITH claimed AS (
  UPDATE performance_seats SET state = 'held', hold_id = 'h' || :hold
  WHERE performance_id = 'pgbench' AND seat_id IN ('s' || :seat) AND state = 'available' RETURNING seat_id
), new_hold AS (
  INSERT INTO holds (id, performance_id, fan_id, tier, quantity, status, expires_at, created_at)
  SELECT 'h' || :hold, 'pgbench', 'fan-' || :fan, NULL, 1, 'active', now() + interval '5 minutes', now() FROM claimed RETURNING id
), items AS (
  INSERT INTO hold_items (hold_id, performance_id, seat_id, active) SELECT 'h' || :hold, 'pgbench', seat_id, true FROM claimed
)
INSERT INTO bench_outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)
  SELECT 'e' || :hold, 'reservation.held', 'hold', id,
         '{"fanId": "fan-1", "holdId": "h1", "performanceId": "pgbench", "quantity": 1, "seatIds": ["s1"], "tier": null}',
         now(), 0
  FROM new_hold;
COMMIT;
