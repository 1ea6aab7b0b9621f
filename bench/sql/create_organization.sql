-- =================================================================================================
-- KEEP IN SYNC with persistence/src/records.rs (create) and persistence/src/journal.rs (record).
-- =================================================================================================
-- pgbench script: the database work of ONE `POST /api/v1/organizations` without bank accounts and
-- without an Idempotency-Key, statement for statement, as the API issues it:
--   BEGIN; INSERT organizations (no RETURNING: records::create uses exec_without_returning);
--   INSERT audit_records … RETURNING *; INSERT domain_events … RETURNING * (ActiveModel::insert
--   reads the row back); COMMIT.
-- Authentication of a JWT needs no database round trip, so there is none here. The JSON texts
-- have the size and shape the API writes (the journal's field diff and the event payload).
-- bench/run.sh runs it as
--   pgbench -n -f bench/sql/create_organization.sql -c 32 -j 2 -T $BENCH_DURATION sdelka_bench
-- and divides the API's create rate by pgbench's tps.
-- pgbench notes: `:name` is replaced by a pgbench variable even inside quotes; literal text below
-- has no ':' followed by a letter. organizations.code is UNIQUE, hence the random code.
-- =================================================================================================
\set n random(1, 2000000000)
BEGIN;

INSERT INTO organizations
    (id, name, short_name, code, inn, kpp, ogrn, vat_payer, legal_address, postal_address,
     director_name, chief_accountant_name, external_id, search_text, version, created_at,
     updated_at, deleted_at)
VALUES
    (gen_random_uuid(), 'ООО Ромашка', 'Ромашка', 'P' || :client_id || 'x' || :n || 'x' || floor(random() * 1000000)::text,
     '7707083893', '773601001', '1027700132195', true, 'Москва, ул. Вавилова, 19', NULL,
     NULL, NULL, NULL, 'ооо ромашка ромашка 7707083893', 1, now(), now(), NULL);

INSERT INTO audit_records
    (id, entity_type, entity_id, action, actor_id, changes, comment, request_id, occurred_at)
VALUES
    (gen_random_uuid(), 'organization', gen_random_uuid(), 'created', gen_random_uuid(),
     '{"chief_accountant_name":{"before":null,"after":null},"code":{"before":null,"after":"123456789"},"deleted_at":{"before":null,"after":null},"director_name":{"before":null,"after":null},"external_id":{"before":null,"after":null},"id":{"before":null,"after":"01a2083d-7866-71c5-813b-46ae0e44b016"},"inn":{"before":null,"after":"7707083893"},"kpp":{"before":null,"after":"773601001"},"legal_address":{"before":null,"after":"Москва, ул. Вавилова, 19"},"name":{"before":null,"after":"ООО Ромашка"},"ogrn":{"before":null,"after":"1027700132195"},"postal_address":{"before":null,"after":null},"short_name":{"before":null,"after":"Ромашка"},"vat_payer":{"before":null,"after":true}}',
     NULL, gen_random_uuid()::text, now())
RETURNING *;

INSERT INTO domain_events
    (id, event_type, entity_type, entity_id, actor_id, api_token_id, correlation_id, payload,
     occurred_at)
VALUES
    (gen_random_uuid(), 'organization.created', 'organization', gen_random_uuid(), gen_random_uuid(), NULL,
     gen_random_uuid()::text,
     '{"object":{"id":"01a2083d-7866-71c5-813b-46ae0e44b016","name":"ООО Ромашка","short_name":"Ромашка","code":"123456789","inn":"7707083893","kpp":"773601001","ogrn":"1027700132195","vat_payer":true,"legal_address":"Москва, ул. Вавилова, 19","postal_address":null,"director_name":null,"chief_accountant_name":null,"external_id":null,"version":1,"created_at":"2026-11-23T11:49:35.974797Z","updated_at":"2026-11-23T11:49:35.974797Z","deleted_at":null},"changed_fields":["chief_accountant_name","code","deleted_at","director_name","external_id","id","inn","kpp","legal_address","name","ogrn","postal_address","short_name","vat_payer"],"changes":{"chief_accountant_name":{"before":null,"after":null},"code":{"before":null,"after":"123456789"},"deleted_at":{"before":null,"after":null},"director_name":{"before":null,"after":null},"external_id":{"before":null,"after":null},"id":{"before":null,"after":"01a2083d-7866-71c5-813b-46ae0e44b016"},"inn":{"before":null,"after":"7707083893"},"kpp":{"before":null,"after":"773601001"},"legal_address":{"before":null,"after":"Москва, ул. Вавилова, 19"},"name":{"before":null,"after":"ООО Ромашка"},"ogrn":{"before":null,"after":"1027700132195"},"postal_address":{"before":null,"after":null},"short_name":{"before":null,"after":"Ромашка"},"vat_payer":{"before":null,"after":true}},"comment":null}',
     now())
RETURNING *;

COMMIT;
