-- =================================================================================================
-- KEEP IN SYNC with persistence/src/sales.rs (deals_query) and persistence/src/pagination.rs
-- (fetch_page: ORDER BY key, id; LIMIT limit + 1), as called by list_deals in
-- api/src/routes/deals.rs. Transcribed from the server's log_statement=all output
-- (bench/capture_deal_sql.sh); the admin's visibility adds no condition.
-- =================================================================================================
-- EXPLAIN (ANALYZE, BUFFERS) of the two filtered deal lists of bench/run.sh, with the parameters
-- written in. psql variables: stage (a stage id), amount_min (kopecks), responsible (a user id).
--   1. GET /api/v1/deals?stage_id=…&amount_min=100000.00&limit=50
--   2. GET /api/v1/deals?responsible_id=…&sort=-amount&limit=50
-- bench/run.sh runs it after the wrk runs (warm cache) and saves the output in
-- bench/results/deal-list-explain.txt.
-- =================================================================================================
\echo '== 1. GET /api/v1/deals?stage_id=':stage'&amount_min=':amount_min' (kopecks)&limit=50'
EXPLAIN (ANALYZE, BUFFERS)
SELECT "deals"."id", "deals"."title", "deals"."search_text", "deals"."pipeline_id", "deals"."stage_id", "deals"."stage_changed_at", "deals"."company_id", "deals"."legal_entity_id", "deals"."responsible_id", "deals"."currency", "deals"."amount_minor", "deals"."expected_close_date", "deals"."close_date_sort", "deals"."loss_reason", "deals"."order_number", "deals"."invoice_numbers", "deals"."payment_percent_hundredths", "deals"."source", "deals"."external_id", "deals"."rows_revision", "deals"."contacts_revision", "deals"."version", "deals"."created_at", "deals"."updated_at", "deals"."deleted_at"
    FROM "deals"
    WHERE "deals"."deleted_at" IS NULL AND "deals"."stage_id" = :'stage' AND "deals"."amount_minor" >= :amount_min
    ORDER BY "deals"."created_at" ASC, "deals"."id" ASC
    LIMIT 51;

\echo '== 2. GET /api/v1/deals?responsible_id=':responsible'&sort=-amount&limit=50'
EXPLAIN (ANALYZE, BUFFERS)
SELECT "deals"."id", "deals"."title", "deals"."search_text", "deals"."pipeline_id", "deals"."stage_id", "deals"."stage_changed_at", "deals"."company_id", "deals"."legal_entity_id", "deals"."responsible_id", "deals"."currency", "deals"."amount_minor", "deals"."expected_close_date", "deals"."close_date_sort", "deals"."loss_reason", "deals"."order_number", "deals"."invoice_numbers", "deals"."payment_percent_hundredths", "deals"."source", "deals"."external_id", "deals"."rows_revision", "deals"."contacts_revision", "deals"."version", "deals"."created_at", "deals"."updated_at", "deals"."deleted_at"
    FROM "deals"
    WHERE "deals"."deleted_at" IS NULL AND "deals"."responsible_id" = :'responsible'
    ORDER BY "deals"."amount_minor" DESC, "deals"."id" DESC
    LIMIT 51;
