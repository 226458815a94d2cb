#!/usr/bin/env python3
"""Writes the SQLite ceiling's script for scripts/bench-orders: ORDERS paid orders, each the two
transactions the API runs on SQLite for one seat — the hold, then the wallet checkout — with the
same statements, against the parallel performance 'pgbench' (seats 's1'…'s100000', wallets
'fan-1'…'fan-1000') that the bench adds to a copy of the server's database. Each order takes a
different seat, so every one is paid. Times are bound as the server binds them (seconds since 1970).

    sqlite-orders.py ORDERS NOW > orders.sql
"""
import random
import sys

orders, now = int(sys.argv[1]), float(sys.argv[2])
seats = list(range(1, 100001))
random.Random(7).shuffle(seats)
body = "x" * 1400  # about the size of a one-ticket checkout's answer, recorded with its key
out = sys.stdout
out.write("PRAGMA busy_timeout = 5000;\nPRAGMA foreign_keys = ON;\nPRAGMA synchronous = FULL;\n")
for n in range(1, orders + 1):
    seat, fan, hold, order = f"s{seats[n - 1]}", f"fan-{n % 1000 + 1}", f"h{n}", f"o{n}"
    at, until = now + n / 1000, now + n / 1000 + 300
    out.write(f"""BEGIN IMMEDIATE;
SELECT seating, on_sale_from, on_sale_until, hold_minutes, max_seats_per_order, max_seats_per_fan, status,
  (SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE performance_id = 'pgbench' AND fan_id = '{fan}' AND status = 'active' AND expires_at > {at})
  + (SELECT COUNT(*) FROM tickets WHERE performance_id = 'pgbench' AND purchaser_id = '{fan}' AND status = 'valid')
  FROM sale_performances WHERE performance_id = 'pgbench';
SELECT id FROM holds WHERE status = 'active' AND expires_at <= {at} AND id IN
  (SELECT hold_id FROM performance_seats WHERE performance_id = 'pgbench' AND seat_id IN ('{seat}') AND state = 'held');
UPDATE performance_seats SET state = 'held', hold_id = '{hold}'
  WHERE performance_id = 'pgbench' AND seat_id IN ('{seat}') AND state = 'available' RETURNING seat_id, label, tier;
INSERT INTO holds (id, performance_id, fan_id, tier, quantity, status, expires_at, created_at)
  VALUES ('{hold}', 'pgbench', '{fan}', NULL, 1, 'active', {until}, {at});
INSERT INTO hold_items (hold_id, performance_id, seat_id, active) VALUES ('{hold}', 'pgbench', '{seat}', 1);
INSERT INTO bench_outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)
  VALUES ('e{n}', 'reservation.held', 'hold', '{hold}', '{{"holdId":"{hold}","performanceId":"pgbench","seatIds":["{seat}"],"quantity":1}}', {at}, 0);
COMMIT;
BEGIN IMMEDIATE;
INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, created_at)
  VALUES ('checkout/{fan}', 'k{n}', 'fingerprint', {at}) ON CONFLICT DO NOTHING RETURNING idempotency_key;
SELECT h.performance_id, h.fan_id, h.tier AS hold_tier, h.quantity, h.status, h.expires_at, h.created_at,
       s.status AS sale_status, ps.seat_id, ps.label, p.tier AS price_tier, p.amount, p.currency
  FROM holds h JOIN sale_performances s ON s.performance_id = h.performance_id
  LEFT JOIN hold_items i ON i.hold_id = h.id
  LEFT JOIN performance_seats ps ON ps.performance_id = i.performance_id AND ps.seat_id = i.seat_id
  LEFT JOIN sale_prices p ON p.performance_id = h.performance_id AND p.tier = COALESCE(ps.tier, h.tier)
  WHERE h.id = '{hold}' ORDER BY ps.label;
UPDATE holds SET status = 'confirmed', order_id = '{order}', ended_at = {at}
  WHERE id = '{hold}' AND status = 'active' AND expires_at > {at} RETURNING id;
UPDATE performance_seats SET state = 'sold'
  WHERE performance_id = 'pgbench' AND seat_id IN ('{seat}') AND hold_id = '{hold}' AND state = 'held' RETURNING seat_id;
INSERT INTO tickets (id, performance_id, hold_id, order_id, purchaser_id, holder_id, seat_id, seat_label, tier,
                     price_amount, price_currency, status, code_version, issued_at)
  VALUES ('t{n}', 'pgbench', '{hold}', '{order}', '{fan}', '{fan}', '{seat}', 'A-{seat}', 'R', 10000, 'KRW', 'valid', 1, {at});
INSERT INTO bench_outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)
  VALUES ('c{n}', 'reservation.confirmed', 'hold', '{hold}', '{{"holdId":"{hold}","orderId":"{order}","ticketIds":["t{n}"]}}', {at}, 0);
UPDATE wallets SET balance = balance - 10000, updated_at = {at} WHERE user_id = '{fan}' AND balance >= 10000 RETURNING balance;
INSERT INTO wallet_ledger (id, user_id, amount, currency, balance_after, reason, order_id, payment_id, note, created_at)
  VALUES ('l{n}', '{fan}', -10000, 'KRW', 0, 'purchase', '{order}', 'p{n}', NULL, {at});
INSERT INTO payments (id, user_id, order_id, purpose, method, amount, currency, refunded, status, created_at, paid_at)
  VALUES ('p{n}', '{fan}', '{order}', 'order', 'wallet', 10000, 'KRW', 0, 'paid', {at}, {at});
INSERT INTO bench_outbox (id, event_type, aggregate_type, aggregate_id, payload, occurred_at, attempts)
  VALUES ('pe{n}', 'payment.completed', 'payment', 'p{n}', '{{"paymentId":"p{n}","orderId":"{order}","method":"wallet"}}', {at}, 0);
SELECT id, status FROM orders WHERE hold_id = '{hold}' AND status <> 'payment_failed';
INSERT INTO orders (id, fan_id, hold_id, performance_id, method, status, total_amount, refunded_amount, currency, created_at, updated_at)
  VALUES ('{order}', '{fan}', '{hold}', 'pgbench', 'wallet', 'paid', 10000, 0, 'KRW', {at}, {at});
INSERT INTO order_items (order_id, ticket_id, seat_id, seat_label, tier, price_amount, currency, status)
  VALUES ('{order}', 't{n}', '{seat}', 'A-{seat}', 'R', 10000, 'KRW', 'active');
INSERT INTO order_history (id, order_id, status, note, at) VALUES ('oh{n}', '{order}', 'paid', 'Paid 10000 KRW from the wallet.', {at});
UPDATE idempotency_keys SET status = 201, body = '{body}' WHERE scope = 'checkout/{fan}' AND idempotency_key = 'k{n}';
COMMIT;
""")
