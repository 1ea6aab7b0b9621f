-- =================================================================================================
-- KEEP IN SYNC with persistence/src/organizations.rs
-- =================================================================================================
-- pgbench script: the database work of ONE `POST /api/v1/organizations` (no Idempotency-Key, so
-- no idempotency_keys row), as one transaction, statement for statement. bench/run.sh runs it as
--   pgbench -n -f bench/sql/create_organization.sql -c 32 -j 2 -T $BENCH_DURATION sdelka_bench
-- against the database the API benchmark has just migrated and filled, and divides the API's
-- create rate by pgbench's tps: the ratio says how much of the database's ceiling the server
-- reaches.
--
-- PLACEHOLDER: the column lists below were written from migrations/src/m0001_platform.rs, not
-- from the code that issues the real statements. When persistence/src/organizations.rs settles,
-- make this file issue exactly what it issues per create — same tables, same columns, same extra
-- statements if any (e.g. a uniqueness SELECT before the INSERT, a user/token lookup done for
-- authentication, RETURNING clauses) — and nothing more.
--
-- pgbench notes: `:name` is replaced by a pgbench variable even inside quotes (that is how
-- ':org_id' below works); keep a space after every ':' in literal text so nothing else is
-- taken for a variable. organizations.code is UNIQUE, hence the uuid in it.
-- =================================================================================================
BEGIN;

INSERT INTO organizations
    (id, name, short_name, code, inn, kpp, ogrn, vat_payer, legal_address,
     search_text, version, created_at, updated_at)
VALUES
    (gen_random_uuid(), 'ООО Ромашка', 'Ромашка', 'PG' || gen_random_uuid()::text,
     '7707083893', '773601001', '1027700132195', true, 'Москва, ул. Вавилова, 19',
     'ооо ромашка ромашка 7707083893', 1, now(), now())
RETURNING id AS org_id \gset

INSERT INTO audit_records
    (id, entity_type, entity_id, action, actor_id, changes, comment, request_id, occurred_at)
VALUES
    (gen_random_uuid(), 'organization', ':org_id', 'create', NULL,
     '{"name": [null, "ООО Ромашка"], "short_name": [null, "Ромашка"], "code": [null, "RM"], "inn": [null, "7707083893"], "kpp": [null, "773601001"], "ogrn": [null, "1027700132195"], "vat_payer": [null, true], "legal_address": [null, "Москва, ул. Вавилова, 19"]}',
     NULL, 'bench-' || :client_id, now());

INSERT INTO domain_events
    (id, event_type, entity_type, entity_id, actor_id, api_token_id, correlation_id, payload,
     occurred_at)
VALUES
    (gen_random_uuid(), 'organization.created', 'organization', ':org_id', NULL, NULL,
     'bench-' || :client_id,
     '{"id": ":org_id", "name": "ООО Ромашка", "short_name": "Ромашка", "code": "RM", "inn": "7707083893", "kpp": "773601001", "ogrn": "1027700132195", "vat_payer": true, "legal_address": "Москва, ул. Вавилова, 19", "version": 1}',
     now());

COMMIT;
