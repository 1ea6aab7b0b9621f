-- Seeds :count draft invoices of organisation :org for buyer :buyer, responsible :actor, dated
-- :date, each for 1 245.50 without VAT — what bench/run.sh (case issue-invoice) then issues
-- through the API, one number per request. Issuing reads the invoice, takes a number and
-- writes the invoice; it does not read the lines, so the drafts have none.
-- KEEP IN SYNC with migrations/src/m0006_money.rs (invoices).
INSERT INTO invoices
    (id, organization_id, bank_account_id, buyer_legal_entity_id, deal_id, order_id,
     responsible_id, status, number, numbering_template_id, numbering_period, numbering_counter,
     invoice_date, due_date, currency, net_minor, vat_minor, total_minor, paid_minor, comment,
     issued_at, cancelled_at, version, created_at, updated_at, deleted_at)
SELECT gen_random_uuid(), :'org'::uuid, NULL, :'buyer'::uuid, NULL, NULL,
       :'actor'::uuid, 'draft', NULL, NULL, NULL, NULL,
       :'date'::date, NULL, 'RUB', 124550, 0, 124550, 0, NULL,
       NULL, NULL, 1, now(), now(), NULL
FROM generate_series(1, :count);
ANALYZE invoices;
