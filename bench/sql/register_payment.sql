-- =================================================================================================
-- KEEP IN SYNC with api/src/routes/payments.rs (register_payment, applications_of),
-- persistence/src/records.rs (create, find) and persistence/src/journal.rs.
-- Regenerate the transcription with bench/capture_money_sql.sh (log_statement=all) and compare.
-- =================================================================================================
-- pgbench script: the database work of ONE POST /api/v1/payments of bench/run.sh (case
-- register-payment, body bench/bodies/payment.json, no applications) — statement for statement
-- as the server issued them (captured with log_statement=all, release build, PostgreSQL; the
-- parameters written in as literals): BEGIN; INSERT payments (no RETURNING); INSERT
-- audit_records … RETURNING; INSERT domain_events … RETURNING; SELECT the payment back;
-- SELECT its applications; COMMIT. Authentication of a JWT needs no database round trip.
-- Values: generated ids become gen_random_uuid() (the payment's id from two random numbers, so
-- that the statements of one transaction use the same one), timestamps now(), the actor (the
-- admin the API runs as) comes from `-D actor=<users.id>`.
-- bench/run.sh runs it as
--   pgbench -n -f bench/sql/register_payment.sql -D actor=<admin id> -c 32 -j 2 -T $BENCH_DURATION sdelka_bench
-- and divides the API's payments/s by pgbench's tps.
-- =================================================================================================
\set pay_hi random(1, 9000000000000000000)
\set pay_lo random(1, 9000000000000000000)
\set n random(1, 2000000000)

BEGIN;
INSERT INTO "payments" ("id", "organization_id", "payment_date", "amount_minor", "applied_minor", "currency", "payer_legal_entity_id", "payer_name", "payer_inn", "payment_order_number", "purpose", "created_by", "version", "created_at", "updated_at", "deleted_at")
    VALUES ((lpad(to_hex(:pay_hi), 16, '0') || lpad(to_hex(:pay_lo), 16, '0'))::uuid, NULL, '2026-11-23', '124550', '0', 'RUB', NULL, 'ТСЖ «Берёзка»', '7707083893', :n::text, 'Оплата по счёту СЧ-2026-00000042, без НДС', ':actor'::uuid, '1', now(), now(), NULL);
INSERT INTO "audit_records" ("id", "entity_type", "entity_id", "action", "actor_id", "changes", "comment", "request_id", "occurred_at")
    VALUES (gen_random_uuid(), 'payment', (lpad(to_hex(:pay_hi), 16, '0') || lpad(to_hex(:pay_lo), 16, '0'))::uuid, 'created', ':actor'::uuid, '{"amount_minor":{"before":null,"after":124550},"applied_minor":{"before":null,"after":0},"created_by":{"before":null,"after":"01a208ed-40ab-7337-8a13-d2af6f079bd3"},"currency":{"before":null,"after":"RUB"},"id":{"before":null,"after":"01a208ed-446c-71bf-817b-67f577ca3f43"},"payer_inn":{"before":null,"after":"7707083893"},"payer_name":{"before":null,"after":"ТСЖ «Берёзка»"},"payment_date":{"before":null,"after":"2026-11-23"},"payment_order_number":{"before":null,"after":"1"},"purpose":{"before":null,"after":"Оплата по счёту СЧ-2026-00000042, без НДС"}}', NULL, gen_random_uuid(), now())
    RETURNING "id", "entity_type", "entity_id", "action", "actor_id", "changes", "comment", "request_id", "occurred_at";
INSERT INTO "domain_events" ("id", "event_type", "entity_type", "entity_id", "actor_id", "api_token_id", "correlation_id", "payload", "occurred_at")
    VALUES (gen_random_uuid(), 'payment.created', 'payment', (lpad(to_hex(:pay_hi), 16, '0') || lpad(to_hex(:pay_lo), 16, '0'))::uuid, ':actor'::uuid, NULL, gen_random_uuid(), '{"object":{"id":"01a208ed-446c-71bf-817b-67f577ca3f43","organization_id":null,"payment_date":"2026-11-23","amount_minor":124550,"applied_minor":0,"currency":"RUB","payer_legal_entity_id":null,"payer_name":"ТСЖ «Берёзка»","payer_inn":"7707083893","payment_order_number":"1","purpose":"Оплата по счёту СЧ-2026-00000042, без НДС","created_by":"01a208ed-40ab-7337-8a13-d2af6f079bd3","version":1,"created_at":"2026-11-23T15:01:37.004110Z","updated_at":"2026-11-23T15:01:37.004110Z","deleted_at":null},"changed_fields":["amount_minor","applied_minor","created_by","currency","id","payer_inn","payer_name","payment_date","payment_order_number","purpose"],"changes":{"amount_minor":{"before":null,"after":124550},"applied_minor":{"before":null,"after":0},"created_by":{"before":null,"after":"01a208ed-40ab-7337-8a13-d2af6f079bd3"},"currency":{"before":null,"after":"RUB"},"id":{"before":null,"after":"01a208ed-446c-71bf-817b-67f577ca3f43"},"payer_inn":{"before":null,"after":"7707083893"},"payer_name":{"before":null,"after":"ТСЖ «Берёзка»"},"payment_date":{"before":null,"after":"2026-11-23"},"payment_order_number":{"before":null,"after":"1"},"purpose":{"before":null,"after":"Оплата по счёту СЧ-2026-00000042, без НДС"}},"comment":null}', now())
    RETURNING "seq", "id", "event_type", "entity_type", "entity_id", "actor_id", "api_token_id", "correlation_id", "payload", "occurred_at";
SELECT "payments"."id", "payments"."organization_id", "payments"."payment_date", "payments"."amount_minor", "payments"."applied_minor", "payments"."currency", "payments"."payer_legal_entity_id", "payments"."payer_name", "payments"."payer_inn", "payments"."payment_order_number", "payments"."purpose", "payments"."created_by", "payments"."version", "payments"."created_at", "payments"."updated_at", "payments"."deleted_at"
    FROM "payments"
    WHERE "payments"."id" = (lpad(to_hex(:pay_hi), 16, '0') || lpad(to_hex(:pay_lo), 16, '0'))::uuid AND "payments"."deleted_at" IS NULL
    LIMIT '1';
SELECT "payment_applications"."id", "payment_applications"."payment_id", "payment_applications"."invoice_id", "payment_applications"."amount_minor", "payment_applications"."live_key", "payment_applications"."applied_by", "payment_applications"."applied_at", "payment_applications"."unapplied_by", "payment_applications"."unapplied_at"
    FROM "payment_applications"
    WHERE "payment_applications"."payment_id" IN ((lpad(to_hex(:pay_hi), 16, '0') || lpad(to_hex(:pay_lo), 16, '0'))::uuid)
    ORDER BY "payment_applications"."applied_at" ASC, "payment_applications"."id" ASC;
COMMIT;
