-- =================================================================================================
-- KEEP IN SYNC with persistence/src/pagination.rs (fetch_page: `(key, id) > ($1, $2)`, ORDER BY
-- key, id, LIMIT limit + 1), persistence/src/people.rs (contains: LIKE '%…%' ESCAPE '\') and
-- migrations/src/m0011_list_indexes.rs (the (key, id) and trigram indexes).
-- =================================================================================================
-- The list cases of issue 10 item 19, over the deals of bench/sql/seed_deals.sql (run with
-- count=1000000), as EXPLAIN (ANALYZE, BUFFERS), each page as the admin asks it (no visibility
-- condition), 50 rows (LIMIT 51):
--   1. a cursor in the middle of the list (created_at order), the keyset written as before
--      (`created_at > $1 OR (created_at = $1 AND id > $2)`) and as now (one row value);
--   2. the same for sort=-amount;
--   3. q= a rare text and q= a text no deal has (trigram GIN index);
--   4. include_total=true (the count that comes with the first page).
-- Usage: psql -d DB -f bench/sql/explain_deal_pages.sql
-- =================================================================================================
\timing off
SELECT created_at AS mid_at, id AS mid_id FROM deals WHERE deleted_at IS NULL
    ORDER BY created_at, id OFFSET 500000 LIMIT 1 \gset
SELECT amount_minor AS mid_amount, id AS mid_amount_id FROM deals WHERE deleted_at IS NULL
    ORDER BY amount_minor DESC, id DESC OFFSET 500000 LIMIT 1 \gset

\echo '== 1a. the middle of the list, created_at order, OR predicate (before)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM deals
    WHERE deals.deleted_at IS NULL
      AND (deals.created_at > :'mid_at' OR (deals.created_at = :'mid_at' AND deals.id > :'mid_id'))
    ORDER BY deals.created_at ASC, deals.id ASC LIMIT 51;

\echo '== 1b. the middle of the list, created_at order, row value (now)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM deals
    WHERE deals.deleted_at IS NULL
      AND (deals.created_at, deals.id) > (:'mid_at', :'mid_id')
    ORDER BY deals.created_at ASC, deals.id ASC LIMIT 51;

\echo '== 2a. the middle of sort=-amount, OR predicate (before)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM deals
    WHERE deals.deleted_at IS NULL
      AND (deals.amount_minor < :mid_amount OR (deals.amount_minor = :mid_amount AND deals.id < :'mid_amount_id'))
    ORDER BY deals.amount_minor DESC, deals.id DESC LIMIT 51;

\echo '== 2b. the middle of sort=-amount, row value (now)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM deals
    WHERE deals.deleted_at IS NULL
      AND (deals.amount_minor, deals.id) < (:mid_amount, :'mid_amount_id')
    ORDER BY deals.amount_minor DESC, deals.id DESC LIMIT 51;

\echo '== 3a. q= a rare text (one deal)'
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM deals
    WHERE deals.deleted_at IS NULL AND deals.search_text LIKE '%777777 —%' ESCAPE '\'
    ORDER BY deals.created_at ASC, deals.id ASC LIMIT 51;

\echo '== 3b. q= a text no deal has'
EXPLAIN (ANALYZE, BUFFERS)
SELECT * FROM deals
    WHERE deals.deleted_at IS NULL AND deals.search_text LIKE '%ромашка%' ESCAPE '\'
    ORDER BY deals.created_at ASC, deals.id ASC LIMIT 51;

\echo '== 4. include_total=true'
EXPLAIN (ANALYZE, BUFFERS)
SELECT COUNT(*) FROM deals WHERE deals.deleted_at IS NULL;
