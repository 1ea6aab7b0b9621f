-- Seeds :count issued invoices of organisation :org for buyer :buyer, responsible :actor,
-- dated :date, numbered СЧ-00001 … and each for 1 000.00 + n kopecks without VAT (unique
-- amounts, so each payment of bench/bank_statement.sh names and pays exactly one).
-- KEEP IN SYNC with migrations/src/m0006_money.rs (invoices).
INSERT INTO invoices
    (id, organization_id, bank_account_id, buyer_legal_entity_id, deal_id, order_id,
     responsible_id, status, number, numbering_template_id, numbering_period, numbering_counter,
     invoice_date, due_date, currency, net_minor, vat_minor, total_minor, paid_minor, comment,
     issued_at, cancelled_at, version, created_at, updated_at, deleted_at)
SELECT gen_random_uuid(), :'org'::uuid, NULL, :'buyer'::uuid, NULL, NULL,
       :'actor'::uuid, 'issued', 'СЧ-' || lpad(n::text, 5, '0'), NULL, NULL, n,
       :'date'::date, NULL, 'RUB', 100000 + n, 0, 100000 + n, 0, NULL,
       now(), NULL, 1, now(), now(), NULL
FROM generate_series(1, :count) AS n;
ANALYZE invoices;
