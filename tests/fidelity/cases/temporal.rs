//! DATE/TIME/DATETIME/TIMESTAMP/YEAR: range edges, values around the 2024
//! Europe/Berlin DST changes (seeded in UTC), and zero dates.
//!
//! Berlin 2024: 2024-03-31 01:00 UTC clocks jump 02:00 → 03:00 local (02:30
//! does not exist); 2024-10-27 01:00 UTC they fall back 03:00 → 02:00 (02:30
//! happens twice).

use super::{c, Case};

const WIDE: &str = "id INT NOT NULL PRIMARY KEY, d DATE, t TIME(3), dt DATETIME, dt6 DATETIME(6), \
    ts TIMESTAMP NULL DEFAULT NULL, ts6 TIMESTAMP(6) NULL DEFAULT NULL, y YEAR";
const WIDE_ROWS: &str = "VALUES \
    (1, '1000-01-01', '-838:59:59.000', '1000-01-01 00:00:00', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01', '1970-01-01 00:00:01.000001', 1901), \
    (2, '9999-12-31', '838:59:59.000', '9999-12-31 23:59:59', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07', '2038-01-19 03:14:07.999999', 2155), \
    (3, '2024-02-29', '-00:00:01.500', '2024-02-29 12:00:00', '2024-02-29 12:00:00.500000', '2024-02-29 12:00:00', '2024-02-29 12:00:00.500000', 0), \
    (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
    (5, '2024-03-31', '02:30:00.999', '2024-03-31 02:30:00', '2024-03-31 02:30:00.123456', '2024-03-31 00:59:59', '2024-03-31 01:00:00.000001', 2024), \
    (6, '1970-01-01', '23:59:59.999', '1970-01-01 00:00:00', '1969-12-31 23:59:59.999999', '2000-01-01 00:00:00', '1999-12-31 23:59:59.999999', 1970)";

const DST: &str = "id INT NOT NULL PRIMARY KEY, dt DATETIME, dt3 DATETIME(3), \
    ts TIMESTAMP NULL DEFAULT NULL, ts3 TIMESTAMP(3) NULL DEFAULT NULL, d DATE";
const DST_ROWS: &str = "VALUES \
    (1, '2024-03-31 01:59:59', '2024-03-31 01:59:59.999', '2024-03-31 00:59:59', '2024-03-31 00:59:59.999', '2024-03-31'), \
    (2, '2024-03-31 02:00:00', '2024-03-31 02:30:00.500', '2024-03-31 01:00:00', '2024-03-31 01:00:00.001', '2024-03-30'), \
    (3, '2024-03-31 03:00:00', '2024-03-31 02:59:59.999', '2024-03-31 01:30:00', '2024-03-31 02:00:00.000', '2024-10-27'), \
    (4, '2024-10-27 02:00:00', '2024-10-27 02:30:00.250', '2024-10-27 00:30:00', '2024-10-27 00:59:59.999', '2024-10-28'), \
    (5, '2024-10-27 02:59:59', '2024-10-27 03:00:00.000', '2024-10-27 01:30:00', '2024-10-27 01:00:00.000', '2000-01-01'), \
    (6, NULL, NULL, NULL, NULL, NULL), \
    (7, '2000-01-01 00:00:00', '1999-12-31 23:59:59.999', '2000-01-01 00:00:00', '1999-12-31 23:00:00.500', '1999-12-31')";

const ZERO: &str = "id INT NOT NULL PRIMARY KEY, d DATE NOT NULL DEFAULT '0000-00-00', \
    dt DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00', ts TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00', v INT";
const ZERO_ROWS: &str =
    "VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', 1), \
    (2, '2024-00-00', '2024-01-00 00:00:00', '2024-01-01 00:00:00', 2), \
    (3, '2024-01-01', '2024-01-01 00:00:00', '2024-03-31 01:30:00', NULL)";
/// A table whose definition is clean but whose rows hold zero dates.
const ZERO_DATA: &str = "id INT NOT NULL PRIMARY KEY, d DATE, dt DATETIME, v INT";
const ZERO_DATA_ROWS: &str = "VALUES (1, '0000-00-00', '0000-00-00 00:00:00', 1), (2, '2024-05-00', '2024-00-01 10:00:00', 2), \
    (3, '2024-05-01', '2024-05-01 10:00:00', 3), (4, NULL, NULL, NULL)";

#[rustfmt::skip]
pub const CASES: &[Case] = &[
    c("tw_add_date", WIDE, WIDE_ROWS, "ADD COLUMN z DATE NOT NULL DEFAULT '2024-02-29'"),
    c("tw_add_time", WIDE, WIDE_ROWS, "ADD COLUMN z TIME(2) DEFAULT '-01:02:03.45'"),
    c("tw_add_year", WIDE, WIDE_ROWS, "ADD COLUMN z YEAR NOT NULL DEFAULT 2000"),
    c("tw_date_to_datetime", WIDE, WIDE_ROWS, "MODIFY d DATETIME"),
    c("tw_time_fsp_narrow", WIDE, WIDE_ROWS, "MODIFY t TIME"),
    c("tw_time_to_int", WIDE, WIDE_ROWS, "MODIFY t INT"),
    c("tw_time_to_varchar", WIDE, WIDE_ROWS, "MODIFY t VARCHAR(20)"),
    c("tw_year_to_smallint", WIDE, WIDE_ROWS, "MODIFY y SMALLINT"),
    c("tw_year_to_char", WIDE, WIDE_ROWS, "MODIFY y CHAR(4)"),
    c("tw_dt6_to_dt2", WIDE, WIDE_ROWS, "MODIFY dt6 DATETIME(2)"),
    c("tw_dt_widen_fsp", WIDE, WIDE_ROWS, "MODIFY dt DATETIME(6)"),
    c("tw_ts_to_datetime", WIDE, WIDE_ROWS, "MODIFY ts DATETIME"),
    c("tw_ts6_to_datetime6", WIDE, WIDE_ROWS, "MODIFY ts6 DATETIME(6)"),
    c("tw_dt_to_ts_out_of_range", WIDE, WIDE_ROWS, "MODIFY dt TIMESTAMP NULL DEFAULT NULL"),
    c("tw_dt_to_varchar", WIDE, WIDE_ROWS, "MODIFY dt6 VARCHAR(30)"),
    c("tw_drop_readd", WIDE, WIDE_ROWS, "DROP COLUMN dt, ADD COLUMN dt DATETIME DEFAULT '2001-01-01 00:00:00'"),
    c("tw_drop_readd_ts", WIDE, WIDE_ROWS, "DROP COLUMN ts, ADD COLUMN ts TIMESTAMP NULL DEFAULT NULL"),
    c("tw_drop_readd_copy", WIDE, WIDE_ROWS, "DROP COLUMN dt6, ADD COLUMN dt6 DATETIME(6), ALGORITHM=COPY"),
    c("tw_rename", WIDE, WIDE_ROWS, "RENAME COLUMN t TO t2"),
    c("tw_change", WIDE, WIDE_ROWS, "CHANGE y yr YEAR NOT NULL DEFAULT 1999"),
    c("tw_index_dt", WIDE, WIDE_ROWS, "ADD INDEX (dt6, ts6)"),
    c("dst_dt_to_ts", DST, DST_ROWS, "MODIFY dt TIMESTAMP NULL DEFAULT NULL"),
    c("dst_dt3_to_ts3", DST, DST_ROWS, "MODIFY dt3 TIMESTAMP(3) NULL DEFAULT NULL"),
    // No NULLs: NULL → TIMESTAMP NOT NULL becomes the ALTER's own clock time.
    c("dst_dt_to_ts_not_null", DST, DST_ROWS, "MODIFY dt TIMESTAMP NOT NULL DEFAULT '2000-01-01 00:00:00'").after("DELETE FROM @T WHERE dt IS NULL"),
    c("dst_ts_to_dt", DST, DST_ROWS, "MODIFY ts DATETIME"),
    c("dst_ts3_to_dt3", DST, DST_ROWS, "MODIFY ts3 DATETIME(3)"),
    c("dst_ts_to_dt6", DST, DST_ROWS, "MODIFY ts DATETIME(6)"),
    c("dst_dt3_to_dt0", DST, DST_ROWS, "MODIFY dt3 DATETIME"),
    c("dst_ts3_to_ts0", DST, DST_ROWS, "MODIFY ts3 TIMESTAMP NULL DEFAULT NULL"),
    c("dst_ts_to_date", DST, DST_ROWS, "MODIFY ts DATE"),
    c("dst_date_to_ts", DST, DST_ROWS, "MODIFY d TIMESTAMP NULL DEFAULT NULL"),
    c("dst_date_to_dt", DST, DST_ROWS, "MODIFY d DATETIME"),
    c("dst_dt_to_date", DST, DST_ROWS, "MODIFY dt DATE"),
    c("dst_ts_to_varchar", DST, DST_ROWS, "MODIFY ts VARCHAR(30)"),
    c("dst_ts_to_bigint", DST, DST_ROWS, "MODIFY ts BIGINT"),
    c("dst_dt_to_bigint", DST, DST_ROWS, "MODIFY dt BIGINT"),
    c("dst_varchar_to_ts", DST, DST_ROWS, "MODIFY ts VARCHAR(30), MODIFY dt TIMESTAMP NULL DEFAULT NULL"),
    c("dst_add_ts_gap_default", DST, DST_ROWS, "ADD COLUMN z TIMESTAMP NOT NULL DEFAULT '2024-03-31 02:30:00'"),
    c("dst_add_ts_ambiguous_default", DST, DST_ROWS, "ADD COLUMN z TIMESTAMP NOT NULL DEFAULT '2024-10-27 02:30:00'"),
    c("dst_add_dt_default", DST, DST_ROWS, "ADD COLUMN z DATETIME NOT NULL DEFAULT '2024-03-31 02:30:00'"),
    c("dst_ts_set_default", DST, DST_ROWS, "ALTER COLUMN ts SET DEFAULT '2024-10-27 02:30:00'"),
    c("dst_gen_convert_tz", DST, DST_ROWS, "ADD COLUMN u DATETIME AS (CONVERT_TZ(dt, '+00:00', '+05:00')) STORED"),
    c("dst_gen_unix_ts", DST, DST_ROWS, "ADD COLUMN u BIGINT AS (UNIX_TIMESTAMP(ts)) VIRTUAL"),
    c("dst_drop_readd_ts", DST, DST_ROWS, "DROP COLUMN ts, ADD COLUMN ts TIMESTAMP NOT NULL DEFAULT '2024-10-27 02:30:00'"),
    c("dst_rename_ts", DST, DST_ROWS, "CHANGE ts ts_renamed TIMESTAMP NULL DEFAULT NULL"),
    c("dst_index_ts", DST, DST_ROWS, "ADD INDEX (ts)"),
    c("zero_add_col", ZERO, ZERO_ROWS, "ADD COLUMN z INT"),
    c("zero_modify_other", ZERO, ZERO_ROWS, "MODIFY v BIGINT"),
    c("zero_add_zero_default", ZERO, ZERO_ROWS, "ADD COLUMN z DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00'"),
    c("zero_dt_to_ts", ZERO, ZERO_ROWS, "MODIFY dt TIMESTAMP NOT NULL DEFAULT '0000-00-00 00:00:00'"),
    c("zero_date_to_dt", ZERO, ZERO_ROWS, "MODIFY d DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00'"),
    c("zero_force", ZERO, ZERO_ROWS, "FORCE"),
    c("zero_add_index", ZERO, ZERO_ROWS, "ADD INDEX (dt)"),
    c("zero_set_default", ZERO, ZERO_ROWS, "ALTER COLUMN d SET DEFAULT '2000-01-01'"),
    c("zero_data_add_col", ZERO_DATA, ZERO_DATA_ROWS, "ADD COLUMN z INT NOT NULL DEFAULT 1"),
    c("zero_data_modify_other", ZERO_DATA, ZERO_DATA_ROWS, "MODIFY v BIGINT"),
    c("zero_data_dt_to_ts", ZERO_DATA, ZERO_DATA_ROWS, "MODIFY dt TIMESTAMP NULL DEFAULT NULL"),
    c("zero_data_date_to_dt", ZERO_DATA, ZERO_DATA_ROWS, "MODIFY d DATETIME"),
    c("zero_data_date_not_null", ZERO_DATA, ZERO_DATA_ROWS, "MODIFY d DATE NOT NULL"),
];
