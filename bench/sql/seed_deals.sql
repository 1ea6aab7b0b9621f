-- =================================================================================================
-- KEEP IN SYNC with the deals table in migrations/src/m0003_sales.rs and
-- persistence/src/entity/deal.rs (columns), persistence/src/sales.rs (search_text = lower(title),
-- close_date_sort = 'YYYY-MM-DD' or '9999-12-31').
-- =================================================================================================
-- Seeds :count deals (bench/run.sh: 100 000) straight into the benchmark database for the
-- "filtered deal list" case, in one INSERT … SELECT generate_series, then ANALYZE.
-- psql variables:
--   count  number of deals
--   users  PostgreSQL array literal of responsible user ids, e.g. '{uuid1,uuid2,…}' (the admin and
--          the sales managers bench/run.sh creates through the API)
-- Shape (setseed makes it the same on every run):
--   - default pipeline "Продажи" (id fixed in m0003_sales.rs), stage spread over its six stages:
--     Новая 25 %, В работе 25 %, Коммерческое предложение 15 %, Счёт выставлен 10 %,
--     Успешно 15 %, Проиграна 10 % (these get a loss_reason, as the API demands);
--   - responsible_id: uniformly over :users;
--   - amount: log-uniform between 10 000 and 10 000 000 roubles (whole kopecks);
--   - created_at: one deal every 10 minutes going back from now (~694 days), updated_at and
--     stage_changed_at up to 30 days later (not after now);
--   - expected_close_date: NULL for 20 %, else 0..180 days after creation.
-- No deal_stage_changes, audit_records or domain_events rows: listing does not read them.
-- =================================================================================================
SELECT setseed(0.4242);

INSERT INTO deals
    (id, title, search_text, pipeline_id, stage_id, stage_changed_at, company_id, legal_entity_id,
     responsible_id, currency, amount_minor, expected_close_date, close_date_sort,
     loss_reason, order_number, invoice_numbers, payment_percent_hundredths, source, external_id,
     rows_revision, version, created_at, updated_at, deleted_at)
SELECT
    gen_random_uuid(), s.title, lower(s.title), '01930000-0000-7000-8000-00005a1e0001', s.stage_id,
    s.changed_at, NULL, NULL,
    s.responsible_id, 'RUB', s.amount_minor, s.close_date,
    coalesce(to_char(s.close_date, 'YYYY-MM-DD'), '9999-12-31'),
    CASE WHEN s.stage_id = '01930000-0000-7000-8000-00005a1e0106'::uuid
         THEN 'Выбрали другого поставщика' END,
    NULL, '[]', 0, NULL, NULL,
    0, 1, s.created_at, s.changed_at, NULL
FROM (
    SELECT
        g,
        'Сделка ' || g || ' — лифтовое оборудование' AS title,
        CASE
            WHEN r1 < 0.25 THEN '01930000-0000-7000-8000-00005a1e0101'::uuid
            WHEN r1 < 0.50 THEN '01930000-0000-7000-8000-00005a1e0102'::uuid
            WHEN r1 < 0.65 THEN '01930000-0000-7000-8000-00005a1e0103'::uuid
            WHEN r1 < 0.75 THEN '01930000-0000-7000-8000-00005a1e0104'::uuid
            WHEN r1 < 0.90 THEN '01930000-0000-7000-8000-00005a1e0105'::uuid
            ELSE '01930000-0000-7000-8000-00005a1e0106'::uuid
        END AS stage_id,
        (:'users'::uuid[])[1 + floor(r2 * cardinality(:'users'::uuid[]))::int] AS responsible_id,
        round(power(10, 6 + 3 * r3))::bigint AS amount_minor,
        created_at,
        least(created_at + r4 * interval '30 days', now()) AS changed_at,
        CASE WHEN r5 < 0.2 THEN NULL
             ELSE (created_at + floor((r5 - 0.2) / 0.8 * 181) * interval '1 day')::date END AS close_date
    FROM (
        SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
               date_trunc('milliseconds', now()) - g * interval '10 minutes' AS created_at
        FROM generate_series(1, :count) AS g
    ) AS raw
) AS s;

ANALYZE deals;
