"""The same matching as `levy reconcile --no-tax-recompute`, in DuckDB over CSV exports of the order store.

Usage: bench-reconcile-duckdb.py EXPORTS_DIR SETTLEMENTS.csv OUT.csv
EXPORTS_DIR holds orders.csv, refunds.csv and ledger.csv (written by scripts/bench-reconcile with sqlite3 -csv).
Prints the differences per reason code; writes every difference to OUT.csv. Fee schedule 2.9% + 0.30 half up,
late after 5 days, the Stripe layout: the options scripts/bench-reconcile gives levy.
"""
import sys
import duckdb

exports, settlements, out = sys.argv[1:4]
db = duckdb.connect()
db.execute(f"""
CREATE TEMP TABLE s AS
SELECT row_number() OVER () + 1 AS line, "id" AS line_id, lower("Type") AS type, "Source" AS processor_id,
       CAST(round(CAST("Amount" AS DECIMAL(18,2)) * 100) AS BIGINT) AS amount,
       CAST(round(CAST("Fee" AS DECIMAL(18,2)) * 100) AS BIGINT) AS fee,
       CAST(round(CAST("Net" AS DECIMAL(18,2)) * 100) AS BIGINT) AS net,
       upper("Currency") AS currency, CAST("Created (UTC)" AS TIMESTAMP) AS created,
       CAST("Available On (UTC)" AS TIMESTAMP) AS settled,
       coalesce("order_id (metadata)", '') AS order_id, coalesce("refund_id (metadata)", '') AS refund_id,
       CASE WHEN lower("Type") IN ('charge', 'payment') THEN 'sale' WHEN lower("Type") IN ('refund', 'payment_refund') THEN 'refund' ELSE 'other' END AS kind
FROM read_csv('{settlements}', header = true, all_varchar = true);

CREATE TEMP TABLE m AS
WITH l AS (
  SELECT order_id, coalesce(refund_id, '') AS refund_id, kind, SUM(tax) AS tax, MIN("at") AS ts
  FROM read_csv('{exports}/ledger.csv', header = true, all_varchar = false) GROUP BY ALL
), o AS (SELECT * FROM read_csv('{exports}/orders.csv', header = true)),
   r AS (SELECT * FROM read_csv('{exports}/refunds.csv', header = true))
SELECT 'sale' AS kind, l.order_id AS key, l.order_id, '' AS refund_id, o.total_amount + o.total_tax AS amount, o.currency,
       CAST(l.ts AS TIMESTAMP) AS ts, l.tax AS ledger_tax, o.total_tax AS recorded_tax
FROM l JOIN o ON o.id = l.order_id WHERE l.kind = 'sale'
UNION ALL
SELECT 'refund', l.refund_id, l.order_id, l.refund_id, -(r.amount + r.tax), o.currency, CAST(l.ts AS TIMESTAMP), l.tax, -r.tax
FROM l JOIN r ON r.id = l.refund_id JOIN o ON o.id = l.order_id WHERE l.kind = 'refund';

CREATE TEMP TABLE ranked AS
SELECT s.*, CASE WHEN kind = 'sale' THEN order_id ELSE refund_id END AS key,
       row_number() OVER (PARTITION BY kind, CASE WHEN kind = 'sale' THEN order_id ELSE refund_id END ORDER BY line) AS rank
FROM s WHERE kind IN ('sale', 'refund');

CREATE TEMP TABLE d AS
SELECT 'duplicate' AS reason, order_id, refund_id, line FROM ranked WHERE rank > 1 AND key <> ''
UNION ALL
SELECT 'currency_mismatch', m.order_id, m.refund_id, x.line FROM ranked x JOIN m ON m.kind = x.kind AND m.key = x.key
  WHERE x.rank = 1 AND x.currency <> m.currency
UNION ALL
SELECT 'amount_mismatch', m.order_id, m.refund_id, x.line FROM ranked x JOIN m ON m.kind = x.kind AND m.key = x.key
  WHERE x.rank = 1 AND x.currency = m.currency AND x.amount <> m.amount
UNION ALL
SELECT 'fee_anomaly', m.order_id, m.refund_id, x.line FROM ranked x JOIN m ON m.kind = x.kind AND m.key = x.key
  WHERE x.rank = 1 AND (x.net <> x.amount - x.fee OR x.fee <> CASE WHEN x.kind = 'sale'
        THEN CAST(floor((x.amount * 290000000 + 5000000000) / 10000000000) AS BIGINT) + 30 ELSE 0 END)
UNION ALL
SELECT 'late_settlement', m.order_id, m.refund_id, x.line FROM ranked x JOIN m ON m.kind = x.kind AND m.key = x.key
  WHERE x.rank = 1 AND x.settled - m.ts > INTERVAL 5 DAY
UNION ALL
SELECT CASE WHEN x.kind = 'sale' THEN 'settlement_without_order'
            WHEN EXISTS (SELECT 1 FROM m s2 WHERE s2.kind = 'sale' AND s2.key = x.order_id) THEN 'settlement_without_order'
            ELSE 'refund_without_sale' END, x.order_id, x.refund_id, x.line
  FROM ranked x WHERE x.rank = 1 AND NOT EXISTS (SELECT 1 FROM m WHERE m.kind = x.kind AND m.key = x.key)
UNION ALL
SELECT 'missing_settlement', m.order_id, m.refund_id, NULL FROM m
  WHERE NOT EXISTS (SELECT 1 FROM ranked x WHERE x.kind = m.kind AND x.key = m.key)
UNION ALL
SELECT 'tax_mismatch', order_id, refund_id, NULL FROM m WHERE ledger_tax <> recorded_tax;

COPY (SELECT * FROM d ORDER BY reason, order_id, refund_id, line) TO '{out}' (HEADER, DELIMITER ',');
""")
for reason, count in db.execute("SELECT reason, COUNT(*) FROM d GROUP BY reason ORDER BY reason").fetchall():
    print(f"{reason} {count}")
