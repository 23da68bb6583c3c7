//! Table options, and ALTERs the server itself refuses (or that only
//! ghostwire might refuse).

use super::{c, Case};

const OPT: &str = "id INT NOT NULL PRIMARY KEY, v VARCHAR(20), n INT";
const OPT_ROWS: &str =
    "VALUES (1, 'a', 1), (2, 'Malmö', NULL), (3, '', -1), (4, NULL, 0), (5, '☃', 2147483647)";

/// A partitioned table (a converting ALTER's checksum once failed on it).
const PARTITIONED: &str = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 \
    PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (1000), PARTITION p1 VALUES LESS THAN MAXVALUE)";

/// A named CHECK constraint (MySQL names them per schema: refused there).
/// Each case names its own (two sharing a name fail each other on MySQL).
const CK: &str = "id INT NOT NULL PRIMARY KEY, a INT, CONSTRAINT ck_named_a CHECK (a < 100)";
const CK2: &str = "id INT NOT NULL PRIMARY KEY, a INT, CONSTRAINT ck_named_b CHECK (a < 100)";
const CK_ROWS: &str = "VALUES (1, 1), (2, 50), (3, NULL)";

#[rustfmt::skip]
pub const CASES: &[Case] = &[
    c("opt_engine_innodb", OPT, OPT_ROWS, "ENGINE=InnoDB"),
    c("opt_row_format_dynamic", OPT, OPT_ROWS, "ROW_FORMAT=DYNAMIC"),
    c("opt_row_format_compact", OPT, OPT_ROWS, "ROW_FORMAT=COMPACT"),
    c("opt_row_format_redundant", OPT, OPT_ROWS, "ROW_FORMAT=REDUNDANT"),
    c("opt_row_format_compressed", OPT, OPT_ROWS, "ROW_FORMAT=COMPRESSED"),
    c("opt_key_block_size", OPT, OPT_ROWS, "ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=4"),
    c("opt_comment", OPT, OPT_ROWS, "COMMENT='saïson ☃'"),
    c("opt_comment_latin1_text", OPT, OPT_ROWS, "COMMENT 'saïson'"),
    c("opt_charset_latin1", OPT, OPT_ROWS, "DEFAULT CHARSET=latin1"),
    c("opt_charset_collate", OPT, OPT_ROWS, "DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
    c("opt_force", OPT, OPT_ROWS, "FORCE"),
    c("opt_stats_persistent", OPT, OPT_ROWS, "STATS_PERSISTENT=0"),
    c("opt_checksum", OPT, OPT_ROWS, "CHECKSUM=1"),
    c("opt_pack_keys", OPT, OPT_ROWS, "PACK_KEYS=1"),
    c("opt_engine_aria", OPT, OPT_ROWS, "ENGINE=Aria"),
    c("opt_engine_myisam", OPT, OPT_ROWS, "ENGINE=MyISAM"),
    c("opt_compact_add_col", OPT, OPT_ROWS, "ADD COLUMN z INT").opts("ROW_FORMAT=COMPACT DEFAULT CHARSET=utf8mb4"),
    c("opt_redundant_modify", OPT, OPT_ROWS, "MODIFY v VARCHAR(30)").opts("ROW_FORMAT=REDUNDANT DEFAULT CHARSET=utf8mb4"),
    c("opt_commented_table_add", OPT, OPT_ROWS, "ADD COLUMN z INT").opts("DEFAULT CHARSET=utf8mb4 COMMENT='été'"),
    c("opt_col_and_table_comment", OPT, OPT_ROWS, "ADD COLUMN z INT COMMENT 'été', COMMENT 'x'"),
    c("opt_many_changes", OPT, OPT_ROWS, "ADD COLUMN z INT, DROP COLUMN n, ADD INDEX (v), ROW_FORMAT=DYNAMIC"),
    c("opt_check_holds", OPT, OPT_ROWS, "ADD CONSTRAINT ck_holds CHECK (n IS NULL OR n > -10)"),
    c("opt_myisam_source", OPT, OPT_ROWS, "ADD COLUMN z INT").opts("ENGINE=MyISAM DEFAULT CHARSET=utf8mb4"),
    c("opt_algorithm_copy", OPT, OPT_ROWS, "ADD COLUMN z INT, ALGORITHM=COPY"),
    c("opt_algorithm_inplace", OPT, OPT_ROWS, "ADD INDEX (n), ALGORITHM=INPLACE, LOCK=NONE"),
    c("part_modify", OPT, OPT_ROWS, "MODIFY n BIGINT").opts(PARTITIONED),
    c("part_add_column", OPT, OPT_ROWS, "ADD COLUMN z INT DEFAULT 3, ADD INDEX (n)").opts(PARTITIONED),
    c("ck_named_modify", CK, CK_ROWS, "MODIFY a BIGINT"),
    c("ck_named_drop_modify", CK2, CK_ROWS, "DROP CONSTRAINT ck_named_b, MODIFY a BIGINT"),
    c("opt_algorithm_instant", OPT, OPT_ROWS, "ADD COLUMN z INT, ALGORITHM=INSTANT"),
    c("opt_algorithm_nocopy", OPT, OPT_ROWS, "ADD INDEX (n), ALGORITHM=NOCOPY"),
    c("fail_instant_index", OPT, OPT_ROWS, "ADD INDEX (n), ALGORITHM=INSTANT"),
    c("fail_instant_shrink", OPT, OPT_ROWS, "MODIFY v VARCHAR(10), ALGORITHM=INSTANT"),
    c("fail_instant_drop_pk", OPT, OPT_ROWS, "DROP PRIMARY KEY, ADD PRIMARY KEY (id, n), ALGORITHM=INSTANT"),
    c("fail_nocopy_shrink", OPT, OPT_ROWS, "MODIFY v VARCHAR(10), ALGORITHM=NOCOPY"),
    c("sess_div_stored", OPT, OPT_ROWS, "ADD COLUMN w VARCHAR(100) AS (CONCAT(n / 3)) STORED"),
    c("sess_div_default", OPT, OPT_ROWS, "ADD COLUMN w VARCHAR(100) DEFAULT (CONCAT(1 / 3))"),
    c("sess_month_default", OPT, OPT_ROWS, "ADD COLUMN w VARCHAR(100) DEFAULT (MONTHNAME('2020-03-01'))"),
    c("sess_month_stored", OPT, OPT_ROWS, "ADD COLUMN w VARCHAR(100) AS (DATE_FORMAT('2020-03-01' + INTERVAL (n % 7) DAY, '%W %M')) STORED"),
    c("sess_week_default", OPT, OPT_ROWS, "ADD COLUMN w INT DEFAULT (WEEK('2021-01-03'))"),
    c("sess_week_stored", OPT, OPT_ROWS, "ADD COLUMN w INT AS (WEEK('2021-01-03' + INTERVAL (n % 7) DAY)) STORED"),
    c("sess_zone_default", OPT, OPT_ROWS, "ADD COLUMN w VARCHAR(50) DEFAULT (UNIX_TIMESTAMP('2020-01-01 00:00:00'))"),
    c("sess_zone_stored", OPT, OPT_ROWS, "ADD COLUMN w BIGINT AS (UNIX_TIMESTAMP('2020-01-01 00:00:00') + n) STORED"),
    c("sess_uservar_default", OPT, OPT_ROWS, "ADD COLUMN w INT DEFAULT (@x)"),
    c("pad_char_stored", OPT, OPT_ROWS, "ADD COLUMN u CHAR(10) DEFAULT 'x', ADD COLUMN w VARCHAR(20) AS (CONCAT(u, '|')) STORED"),
    c("fail_drop_unknown_column", OPT, OPT_ROWS, "DROP COLUMN nosuch"),
    c("fail_modify_unknown_column", OPT, OPT_ROWS, "MODIFY nosuch INT"),
    c("fail_rename_unknown_column", OPT, OPT_ROWS, "RENAME COLUMN nosuch TO x"),
    c("fail_duplicate_column", OPT, OPT_ROWS, "ADD COLUMN v INT"),
    c("fail_change_to_existing", OPT, OPT_ROWS, "CHANGE v n INT"),
    c("fail_duplicate_key_name", OPT, OPT_ROWS, "ADD INDEX k1 (n), ADD INDEX k1 (v)"),
    c("fail_truncation", OPT, OPT_ROWS, "MODIFY v VARCHAR(2)"),
    c("fail_not_null_on_nulls", OPT, OPT_ROWS, "MODIFY n INT NOT NULL"),
    c("fail_zero_date_default", OPT, OPT_ROWS, "ADD COLUMN z DATE NOT NULL DEFAULT '0000-00-00'"),
    c("fail_bad_int_default", OPT, OPT_ROWS, "ADD COLUMN z INT DEFAULT 'abc'"),
    c("fail_bad_enum_default", OPT, OPT_ROWS, "ADD COLUMN z ENUM('a') DEFAULT 'b'"),
    c("fail_out_of_range_default", OPT, OPT_ROWS, "ADD COLUMN z TINYINT DEFAULT 300"),
    c("fail_gen_unknown_column", OPT, OPT_ROWS, "ADD COLUMN g INT AS (nosuch + 1)"),
    c("fail_second_primary_key", OPT, OPT_ROWS, "ADD PRIMARY KEY (n)"),
    c("fail_check_violated", OPT, OPT_ROWS, "ADD CONSTRAINT ck_violated CHECK (n > 100)"),
    c("fail_key_too_long", OPT, OPT_ROWS, "ADD COLUMN big VARCHAR(1000), ADD INDEX (big)"),
    c("fail_drop_unknown_index", OPT, OPT_ROWS, "DROP INDEX nosuch"),
    c("fail_data_to_latin1", OPT, OPT_ROWS, "MODIFY v VARCHAR(20) CHARACTER SET latin1"),
    c("fail_unknown_charset", OPT, OPT_ROWS, "CONVERT TO CHARACTER SET nosuch"),
    c("fail_unknown_collation", OPT, OPT_ROWS, "MODIFY v VARCHAR(20) COLLATE nosuch_ci"),
    c("fail_syntax", OPT, OPT_ROWS, "ADD COLUMN (z"),
    c("fail_fulltext_on_int", OPT, OPT_ROWS, "ADD FULLTEXT (n)"),
    c("fail_unknown_engine", OPT, OPT_ROWS, "ENGINE=NoSuchEngine"),
    c("nokey_drop_pk_column", OPT, OPT_ROWS, "DROP COLUMN id"),
];
