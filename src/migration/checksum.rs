//! Checksum of the original against the shadow before the cut-over.
//!
//! Run inside one consistent snapshot taken while both tables were equal
//! (see `cutover::snapshot`), chunk by chunk along the key: each chunk's
//! row count and XOR of per-row CRC32s must match. Only columns stored the
//! same way in both tables are compared (a column whose type the ALTER
//! changes holds converted values by design; under ALTER IGNORE, the rows
//! the new table kept). A mismatch fails the
//! migration before the rename: the original table is left as it is.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::copier::{bound, CopyPlan};
use super::{refused, Result};

/// Columns compared, as named in the original / the shadow (quoted).
pub struct Compared {
    pub old: Vec<String>,
    pub new: Vec<String>,
}

/// `CONCAT_WS` skips NULLs; a NULL flag per column keeps (NULL, 'a') and
/// ('a', NULL) apart.
fn row_digest(cols: &[String]) -> String {
    let parts: Vec<String> = cols.iter().map(|c| format!("{c}, ISNULL({c})")).collect();
    format!(
        "COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('#', {}))), 0)",
        parts.join(", ")
    )
}

/// Compares both tables chunk by chunk, the original on `snaps[0]` and
/// the shadow on `snaps[1]` at once (two snapshots of the same moment).
/// Returns the number of rows compared.
pub async fn compare(
    snaps: &mut [Conn],
    plan: &CopyPlan,
    cols: &Compared,
    chunk_rows: u64,
) -> Result<u64> {
    let [conn, other] = snaps else {
        return Err(super::MigrationError::Internal(
            "the checksum needs two snapshots".into(),
        ));
    };
    if cols.old.is_empty() {
        return Ok(0);
    }
    let Some(max) = bound(conn, plan, &plan.max_sql()).await? else {
        let n: Option<u64> = conn
            .query_first(format!("SELECT COUNT(*) FROM {}", plan.shadow))
            .await?;
        return match n {
            Some(0) | None => Ok(0),
            Some(n) => Err(refused(format!(
                "checksum: the original is empty but the shadow has {n} rows"
            ))),
        };
    };
    let old_digest = row_digest(&cols.old);
    let new_digest = row_digest(&cols.new);
    let mut lower = None;
    let mut rows = 0;
    loop {
        let upper = bound(conn, plan, &plan.upper_sql(lower.as_ref(), chunk_rows)).await?;
        let last = upper.is_none();
        let hi = upper.unwrap_or_else(|| max.clone());
        // The last chunk is open-ended on the shadow side too: extra rows
        // above the original's last key are a difference.
        let old_range = CopyPlan::range(&plan.old_key, lower.as_ref(), &hi);
        let new_range = if last {
            lower
                .as_ref()
                .map(|lo| super::sql::tuple_cmp(&plan.new_key, lo, ">"))
                .unwrap_or_else(|| "TRUE".into())
        } else {
            CopyPlan::range(&plan.new_key, lower.as_ref(), &hi)
        };
        // ALTER IGNORE drops rows that collide on a new unique key: the
        // shadow must hold exactly the original's rows that it kept.
        let kept = if plan.ignore {
            let s: Vec<String> = plan.new_key.iter().map(|k| format!("s.{k}")).collect();
            let o: Vec<String> = plan.old_key.iter().map(|k| format!("o.{k}")).collect();
            format!(
                " AND EXISTS (SELECT 1 FROM {} s WHERE ({}) = ({}))",
                plan.shadow,
                s.join(", "),
                o.join(", ")
            )
        } else {
            String::new()
        };
        let old_sql = format!(
            "SELECT {old_digest} FROM {} o WHERE {old_range}{kept}",
            plan.original
        );
        let new_sql = format!("SELECT {new_digest} FROM {} WHERE {new_range}", plan.shadow);
        let (a, b) = tokio::join!(
            conn.query_first::<(u64, u64), _>(old_sql),
            other.query_first::<(u64, u64), _>(new_sql)
        );
        let (a, b) = (a?, b?);
        if a != b {
            let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
            return Err(refused(format!(
                "checksum mismatch before cut-over in key range {old_range}: original {} rows, \
                 new table {} rows (or different values); the original table is unchanged. \
                 This is a bug: please report it",
                a.0, b.0
            )));
        }
        rows += a.map(|r| r.0).unwrap_or_default();
        if last {
            return Ok(rows);
        }
        lower = Some(hi);
    }
}
