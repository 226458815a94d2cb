-- One paid order as the API runs it on PostgreSQL: a single-seat hold (the hold function),
-- then the wallet checkout's transaction — claim the Idempotency-Key, price and lock the hold,
-- confirm it and issue its ticket (PurchaseStatements.ConfirmHold), debit the wallet
-- (WalletStatements.PayFromWallet), write the order (OrderStatements.OpenOrder), record the
-- answer. The statements are the API's own, with events going to bench_outbox (same shape as
-- outbox) so the running relay does not deliver them; scripts/bench-orders copies the hold
-- function the same way. Against a performance of 100,000 seats ('s1'…'s100000') and 1,000
-- wallets ('fan-1'…). pgbench reads ":word" as a variable even inside quotes, so the JSON
-- below has a space after every colon.
\set seat random(1, 100000)
\set fan random(1, 1000)
\set n random(1, 1000000000000)
SELECT COUNT(*) AS held
  FROM bench_hold_seats('h' || :n, 'pgbench', 'fan-' || :fan, ARRAY['s' || :seat], now(), 1752132708,
    'e' || :n, 'reservation.held', 'hold',
    '{"expiresAt": "2026-11-21T10:05:00Z", "fanId": "fan-1", "holdId": "h1", "performanceId": "pgbench", "quantity": 1, "seatIds": ["s1"]}',
    now())
  WHERE outcome = 'held' \gset
\if :held
BEGIN;
INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, created_at)
  VALUES ('checkout/fan-' || :fan, 'k' || :n, 'fingerprint', now()) ON CONFLICT DO NOTHING RETURNING idempotency_key;
SELECT h.performance_id, h.fan_id, h.tier AS hold_tier, h.quantity, h.status, h.expires_at, h.created_at,
       s.status AS sale_status, ps.seat_id, ps.label, p.tier AS price_tier, p.amount, p.currency
  FROM holds h
  JOIN sale_performances s ON s.performance_id = h.performance_id
  LEFT JOIN hold_items i ON i.hold_id = h.id
  LEFT JOIN performance_seats ps ON ps.performance_id = i.performance_id AND ps.seat_id = i.seat_id
  LEFT JOIN sale_prices p ON p.performance_id = h.performance_id AND p.tier = COALESCE(ps.tier, h.tier)
  WHERE h.id = 'h' || :n
  ORDER BY ps.label FOR UPDATE OF h;
WITH confirmed AS (
    UPDATE holds SET status = 'confirmed', order_id = 'o' || :n, ended_at = now()
    WHERE id = 'h' || :n AND status = 'active' AND expires_at > now()
    RETURNING id
), sold AS (
    UPDATE performance_seats SET state = 'sold'
    WHERE performance_id = 'pgbench' AND seat_id = ANY(ARRAY['s' || :seat]) AND hold_id = 'h' || :n AND state = 'held'
      AND EXISTS (SELECT 1 FROM confirmed)
    RETURNING seat_id
), complete AS (
    SELECT 1 FROM confirmed WHERE (SELECT COUNT(*) FROM sold) = cardinality(ARRAY['s' || :seat])
), issued AS (
    INSERT INTO tickets (id, performance_id, hold_id, order_id, purchaser_id, holder_id, seat_id, seat_label, tier,
                         price_amount, price_currency, status, code_version, issued_at)
    SELECT t.id, 'pgbench', 'h' || :n, 'o' || :n, 'fan-' || :fan, 'fan-' || :fan, NULLIF(t.seat_id, ''), NULLIF(t.label, ''), t.tier,
           t.amount, t.currency, 'valid', 1, now()
    FROM unnest(ARRAY['t' || :n], ARRAY['s' || :seat], ARRAY['A-' || :seat], ARRAY['R'], ARRAY[10000::bigint], ARRAY['KRW'])
         AS t(id, seat_id, label, tier, amount, currency)
    WHERE EXISTS (SELECT 1 FROM complete)
), event AS (
    INSERT INTO bench_outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)
    SELECT 'c' || :n, 'reservation.confirmed', 'hold', 'h' || :n,
      '{"fanId": "fan-1", "holdId": "h1", "orderId": "o1", "performanceId": "pgbench", "quantity": 1, "seatIds": ["s1"], "ticketIds": ["t1"]}',
      now(), 0 FROM complete
)
SELECT (SELECT COUNT(*) FROM confirmed)::int AS confirmed, (SELECT COUNT(*) FROM sold)::int AS sold;
WITH debited AS (
    UPDATE wallets SET balance = balance - 10000, updated_at = now()
    WHERE user_id = 'fan-' || :fan AND balance >= 10000
    RETURNING balance
), entry AS (
    INSERT INTO wallet_ledger (id, user_id, amount, currency, balance_after, reason, order_id, payment_id, note, created_at)
    SELECT 'l' || :n, 'fan-' || :fan, -10000, 'KRW', balance, 'purchase', 'o' || :n, 'p' || :n, NULL, now() FROM debited
), payment AS (
    INSERT INTO payments (id, user_id, order_id, purpose, method, amount, currency, refunded, status, created_at, paid_at)
    SELECT 'p' || :n, 'fan-' || :fan, 'o' || :n, 'order', 'wallet', 10000, 'KRW', 0, 'paid', now(), now() FROM debited
), event AS (
    INSERT INTO bench_outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)
    SELECT 'pe' || :n, 'payment.completed', 'payment', 'p' || :n,
      '{"amount": {"amount": 10000, "currency": "KRW"}, "method": "wallet", "orderId": "o1", "paymentId": "p1", "purpose": "order", "userId": "fan-1"}',
      now(), 0 FROM debited
)
SELECT balance FROM debited;
WITH new_order AS (
    INSERT INTO orders (id, fan_id, hold_id, performance_id, method, status, total_amount, refunded_amount, currency,
                        created_at, updated_at)
    SELECT 'o' || :n, 'fan-' || :fan, 'h' || :n, 'pgbench', 'wallet', 'paid', 10000, 0, 'KRW', now(), now()
    WHERE NOT EXISTS (SELECT 1 FROM orders WHERE hold_id = 'h' || :n AND status <> 'payment_failed')
    RETURNING id
), items AS (
    INSERT INTO order_items (order_id, ticket_id, seat_id, seat_label, tier, price_amount, currency, status)
    SELECT 'o' || :n, t.ticket_id, NULLIF(t.seat_id, ''), NULLIF(t.label, ''), t.tier, t.amount, t.currency, 'active'
    FROM unnest(ARRAY['t' || :n], ARRAY['s' || :seat], ARRAY['A-' || :seat], ARRAY['R'], ARRAY[10000::bigint], ARRAY['KRW'])
         AS t(ticket_id, seat_id, label, tier, amount, currency)
    WHERE EXISTS (SELECT 1 FROM new_order)
), history AS (
    INSERT INTO order_history (id, order_id, status, note, at) SELECT 'oh' || :n, 'o' || :n, 'paid', 'Paid 10000 KRW from the wallet.', now() FROM new_order
)
SELECT (SELECT COUNT(*) FROM new_order)::int AS opened;
UPDATE idempotency_keys SET status = 201, body = repeat('x', 1400)
  WHERE scope = 'checkout/fan-' || :fan AND idempotency_key = 'k' || :n;
COMMIT;
\endif
