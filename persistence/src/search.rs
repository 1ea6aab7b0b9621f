//! `q=` of the lists: a case-insensitive substring of a record's `search_text` (kept
//! lower-cased by its operations). The list queries match it with `LIKE`, which PostgreSQL
//! serves from its `pg_trgm` indexes. On SQLite, [`narrow`] asks the table's FTS5 trigram index
//! (migration m0019) how many records hold `q` (three or more characters), counting no further
//! than [`INDEX_CANDIDATE_LIMIT`]: a rare `q` restricts the list to those candidates, so no
//! scan happens; a common one is left to the `LIKE` on the list's sort index, which finds a
//! page of matches after reading about a page of rows. The `LIKE` stays in both cases, so the
//! answer is the same on both backends and the index only saves work.

use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Select, Statement};

use crate::error::StoreResult;

/// The shortest `q` the trigram index can look up; a shorter one is matched by a scan.
pub const MIN_INDEXED_CHARS: usize = 3;

/// Above this many records holding `q`, the list walks its sort index with the `LIKE` instead
/// of fetching and sorting every candidate: a page then costs reading a few hundred rows at
/// most (a `q` found in one record of 500 reads about 25 000 rows for a page of 50 — the
/// crossover where both ways cost about the same on SQLite).
pub const INDEX_CANDIDATE_LIMIT: u64 = 2_000;

/// `select` restricted to the records of `table` whose search text the index finds `q` in
/// (SQLite, `q` long enough and rare enough); otherwise `select` unchanged.
pub async fn narrow<E, C>(
    select: Select<E>,
    db: &C,
    table: &'static str,
    q: Option<&str>,
) -> StoreResult<Select<E>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let Some(q) = q.filter(|q| q.chars().count() >= MIN_INDEXED_CHARS) else {
        return Ok(select);
    };
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(select);
    }
    let phrase = format!(
        "search_text : \"{}\"",
        q.to_lowercase().replace('"', "\"\"")
    );
    let count = Statement::from_sql_and_values(
        DbBackend::Sqlite,
        format!(
            "SELECT count(*) AS n FROM (SELECT 1 FROM \"{table}_fts\" \
             WHERE \"{table}_fts\" MATCH ? LIMIT {})",
            INDEX_CANDIDATE_LIMIT + 1
        ),
        [phrase.clone().into()],
    );
    let holders: i64 = match db.query_one_raw(count).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    if holders as u64 > INDEX_CANDIDATE_LIMIT {
        return Ok(select);
    }
    Ok(select.filter(Expr::cust_with_values(
        format!(
            "\"{table}\".\"id\" IN (SELECT unhex(\"id\") FROM \"{table}_fts\" \
             WHERE \"{table}_fts\" MATCH ?)"
        ),
        [phrase],
    )))
}
