-- One single-seat hold, as the API runs it on PostgreSQL: one call to the hold function
-- (reservations_hold_seats: the fan's lock, the sale rules with the fan's count, the claim, the
-- hold, its items and the event), against a performance of 100,000 seats ('s1'…'s100000').
-- scripts/bench-holds copies the function as bench_hold_seats, writing its events to
-- bench_outbox (same shape as outbox) so the running relay does not deliver them. pgbench reads
-- ":word" as a variable even inside quotes, so the JSON below has a space after every colon.
\set seat random(1, 100000)
\set fan random(1, 1000)
\set hold random(1, 1000000000000)
SELECT held_until, held_seat_id, held_label, held_tier
  FROM bench_hold_seats('h' || :hold, 'pgbench', 'fan-' || :fan, ARRAY['s' || :seat], now(), 1752132708,
    'e' || :hold, 'reservation.held', 'hold',
    '{"expiresAt": "2026-11-21T10:05:00Z", "fanId": "fan-1", "holdId": "h1", "performanceId": "pgbench", "quantity": 1, "seatIds": ["s1"]}',
    now());
