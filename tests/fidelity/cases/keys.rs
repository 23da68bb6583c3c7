//! Primary and unique keys (extended, reduced, swapped; TIMESTAMP, DATETIME,
//! ENUM, VARCHAR and composite keys; new UNIQUE keys over duplicates) and
//! AUTO_INCREMENT counters.

use super::{c, Case};

// `u` in general_ci on both flavours (MariaDB's utf8mb4 default; MySQL's
// is 0900_ai_ci, where 'Straße' = 'Strasse' and the seed would collide).
const KEYS: &str = "id INT NOT NULL, i INT NOT NULL, \
    u VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL, v INT, \
    PRIMARY KEY (id), UNIQUE KEY uq (u), KEY vi (v)";
const KEY_ROWS: &str =
    "VALUES (1, 10, 'a', NULL), (2, 20, 'b', 5), (3, 30, 'c', 5), (4, 40, 'é', -1), \
    (5, 50, '☃', 0), (6, 60, 'Malmö', 7), (7, 70, 'Straße', 7), (8, 80, 'Strasse', 8)";

const COMP: &str = "id INT NOT NULL, i INT NOT NULL, v INT, PRIMARY KEY (id, i)";
const COMP_ROWS: &str =
    "VALUES (1, 1, 1), (1, 2, 2), (2, 1, NULL), (3, -1, 4), (4, 0, 5), (5, 5, 5)";
const COMP_UNIQUE_ID: &str = "VALUES (1, 1, 1), (2, 2, 2), (3, 1, NULL), (4, -1, 4), (5, 0, 5)";

const TSKEY: &str =
    "id INT NOT NULL, ts TIMESTAMP NOT NULL DEFAULT '2000-01-01 00:00:00', v VARCHAR(10), \
    PRIMARY KEY (ts, id)";
const TSKEY_ROWS: &str = "VALUES (1, '2024-03-31 00:59:59', 'a'), (2, '2024-03-31 01:00:00', 'b'), \
    (3, '2024-10-27 00:30:00', 'c'), (4, '2024-10-27 01:30:00', 'd'), (5, '2024-10-27 01:30:00', 'e'), \
    (6, '1970-01-01 00:00:01', NULL)";

const DTKEY: &str = "id INT NOT NULL, dt DATETIME(3) NOT NULL, v INT, PRIMARY KEY (dt, id)";
const DTKEY_ROWS: &str = "VALUES (1, '2024-03-31 02:30:00.5', 1), (2, '2024-10-27 02:30:00', 2), \
    (3, '1000-01-01 00:00:00', 3), (4, '9999-12-31 23:59:59.999', NULL), (5, '2024-10-27 02:30:00', 5)";

const ENUMKEY: &str =
    "e ENUM('x','y','z') NOT NULL, id INT NOT NULL, v VARCHAR(10), PRIMARY KEY (e, id)";
const ENUMKEY_ROWS: &str = "VALUES ('x', 1, 'a'), ('y', 2, 'b'), ('z', 3, 'c'), ('x', 4, NULL), ('z', 5, 'é'), ('y', 6, '☃')";

const VKEY: &str = "id INT NOT NULL, code VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (code)";
const VKEY_ROWS: &str =
    "VALUES (1, 'a', 1), (2, 'B', 2), (3, 'é', 3), (4, '☃', NULL), (5, '', 5), (6, 'Z ', 6)";
const VKEY_BIN: &str =
    "id INT NOT NULL, code VARCHAR(10) COLLATE utf8mb4_bin NOT NULL, PRIMARY KEY (code)";
const VKEY_BIN_ROWS: &str = "VALUES (1, 'a'), (2, 'A'), (3, 'é'), (4, 'É'), (5, 'b')";

const UK: &str = "id INT NOT NULL, v INT, UNIQUE KEY uk (id)";
const UK_ROWS: &str = "VALUES (1, 1), (2, NULL), (3, 3), (4, 4), (5, 5)";

const AI: &str = "id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10)";
const AI_ROWS: &str = "(v) VALUES ('a'), ('b'), ('c'), ('d'), ('e'), ('f'), ('g')";
/// Deleting the top rows leaves the counter above the highest id.
const AI_GAP: &str = "DELETE FROM @T WHERE id > 5";
const NO_AI: &str = "id INT NOT NULL PRIMARY KEY, v VARCHAR(10)";
/// A column made AUTO_INCREMENT while it holds NULLs and zeros: natively
/// numbered in the order the ALTER reads the rows.
const AI_NULLS: &str = "id INT NOT NULL PRIMARY KEY, k INT";
const AI_NULL_ROWS: &str = "VALUES (1, NULL), (2, 0), (3, 7), (4, NULL), (5, 2)";
const ZERO_ID_ROWS: &str = "VALUES (0, 'zero'), (1, 'a'), (2, 'b'), (5, 'c'), (9, 'd')";
const AI2: &str =
    "id INT NOT NULL, n BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, v INT, PRIMARY KEY (id), KEY (n)";
const AI2_ROWS: &str = "(id, v) VALUES (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6)";

#[rustfmt::skip]
pub const CASES: &[Case] = &[
    c("key_extend_pk", KEYS, KEY_ROWS, "DROP PRIMARY KEY, ADD PRIMARY KEY (id, i)"),
    c("key_extend_pk_varchar", KEYS, KEY_ROWS, "DROP PRIMARY KEY, ADD PRIMARY KEY (id, u)"),
    c("key_pk_other_column", KEYS, KEY_ROWS, "DROP PRIMARY KEY, ADD PRIMARY KEY (i)"),
    c("key_swap_pk_unique", KEYS, KEY_ROWS, "DROP PRIMARY KEY, DROP INDEX uq, ADD PRIMARY KEY (u), ADD UNIQUE KEY uid (id)"),
    c("key_drop_pk", KEYS, KEY_ROWS, "DROP PRIMARY KEY"),
    c("key_drop_index", KEYS, KEY_ROWS, "DROP INDEX vi"),
    c("key_add_index", KEYS, KEY_ROWS, "ADD INDEX iv (i, v)"),
    c("key_rename_index", KEYS, KEY_ROWS, "RENAME INDEX vi TO v_idx"),
    c("key_add_unique_dup", KEYS, KEY_ROWS, "ADD UNIQUE (v)"),
    c("key_add_unique_dup_ignore", KEYS, KEY_ROWS, "ADD UNIQUE (v)").ignore(),
    c("key_add_unique_ok", KEYS, KEY_ROWS, "ADD UNIQUE (i)"),
    c("key_drop_unique", KEYS, KEY_ROWS, "DROP INDEX uq"),
    c("key_desc_index", KEYS, KEY_ROWS, "ADD INDEX (i DESC)"),
    c("key_ignored_index", KEYS, KEY_ROWS, "ALTER INDEX vi IGNORED"),
    c("key_pk_on_nullable_dups", KEYS, KEY_ROWS, "DROP PRIMARY KEY, ADD PRIMARY KEY (v)"),
    c("key_unique_nullable", KEYS, KEY_ROWS, "ADD UNIQUE (v, i)"),
    c("key_replace_index", KEYS, KEY_ROWS, "DROP INDEX vi, ADD INDEX vi (v, i)"),
    c("key_add_col_into_pk", KEYS, KEY_ROWS, "ADD COLUMN z INT NOT NULL DEFAULT 0, DROP PRIMARY KEY, ADD PRIMARY KEY (id, z)"),
    c("key_unique_collation_dup", KEYS, KEY_ROWS, "MODIFY u VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL"),
    c("key_unique_collation_dup_ignore", KEYS, KEY_ROWS, "MODIFY u VARCHAR(20) COLLATE utf8mb4_unicode_ci NOT NULL").ignore(),
    c("comp_reduce_pk_dups", COMP, COMP_ROWS, "DROP PRIMARY KEY, ADD PRIMARY KEY (id)"),
    c("comp_reduce_pk_dups_ignore", COMP, COMP_ROWS, "DROP PRIMARY KEY, ADD PRIMARY KEY (id)").ignore(),
    c("comp_reduce_pk", COMP, COMP_UNIQUE_ID, "DROP PRIMARY KEY, ADD PRIMARY KEY (id)"),
    c("comp_swap_order", COMP, COMP_ROWS, "DROP PRIMARY KEY, ADD PRIMARY KEY (i, id)"),
    c("comp_add_col", COMP, COMP_ROWS, "ADD COLUMN z VARCHAR(5) DEFAULT 'été'"),
    c("comp_modify_key_col", COMP, COMP_ROWS, "MODIFY i BIGINT NOT NULL"),
    c("comp_extend_nullable", COMP, COMP_ROWS, "DROP PRIMARY KEY, ADD PRIMARY KEY (id, i, v)"),
    c("tskey_add_col", TSKEY, TSKEY_ROWS, "ADD COLUMN z INT"),
    c("tskey_modify_v", TSKEY, TSKEY_ROWS, "MODIFY v VARCHAR(20)"),
    c("tskey_to_datetime", TSKEY, TSKEY_ROWS, "MODIFY ts DATETIME NOT NULL"),
    c("tskey_fsp", TSKEY, TSKEY_ROWS, "MODIFY ts TIMESTAMP(3) NOT NULL DEFAULT '2000-01-01 00:00:00'"),
    c("tskey_reorder_pk", TSKEY, TSKEY_ROWS, "DROP PRIMARY KEY, ADD PRIMARY KEY (id, ts)"),
    c("tskey_add_index", TSKEY, TSKEY_ROWS, "ADD INDEX (v)"),
    c("dtkey_add_col", DTKEY, DTKEY_ROWS, "ADD COLUMN z INT"),
    c("dtkey_to_timestamp", DTKEY, DTKEY_ROWS, "MODIFY dt TIMESTAMP(3) NOT NULL DEFAULT '2000-01-01 00:00:00'"),
    c("dtkey_fsp_narrow", DTKEY, DTKEY_ROWS, "MODIFY dt DATETIME NOT NULL"),
    c("dtkey_add_index", DTKEY, DTKEY_ROWS, "ADD INDEX (v)"),
    c("enumkey_add_col", ENUMKEY, ENUMKEY_ROWS, "ADD COLUMN z INT"),
    c("enumkey_modify_v", ENUMKEY, ENUMKEY_ROWS, "MODIFY v VARCHAR(20)"),
    c("enumkey_extend", ENUMKEY, ENUMKEY_ROWS, "MODIFY e ENUM('x','y','z','w') NOT NULL"),
    c("enumkey_reorder", ENUMKEY, ENUMKEY_ROWS, "MODIFY e ENUM('z','y','x') NOT NULL"),
    c("enumkey_to_varchar", ENUMKEY, ENUMKEY_ROWS, "MODIFY e VARCHAR(1) NOT NULL"),
    c("enumkey_add_index", ENUMKEY, ENUMKEY_ROWS, "ADD INDEX (v)"),
    c("vkey_add_col", VKEY, VKEY_ROWS, "ADD COLUMN z INT"),
    c("vkey_collate_bin", VKEY, VKEY_ROWS, "MODIFY code VARCHAR(10) COLLATE utf8mb4_bin NOT NULL"),
    c("vkey_to_latin1", VKEY, VKEY_ROWS, "MODIFY code VARCHAR(10) CHARACTER SET latin1 NOT NULL"),
    c("vkey_widen", VKEY, VKEY_ROWS, "MODIFY code VARCHAR(20) NOT NULL"),
    c("vkey_ci_collision", VKEY_BIN, VKEY_BIN_ROWS, "MODIFY code VARCHAR(10) COLLATE utf8mb4_general_ci NOT NULL"),
    c("vkey_ci_collision_ignore", VKEY_BIN, VKEY_BIN_ROWS, "MODIFY code VARCHAR(10) COLLATE utf8mb4_general_ci NOT NULL").ignore(),
    c("uk_add_col", UK, UK_ROWS, "ADD COLUMN z INT"),
    c("uk_add_pk", UK, UK_ROWS, "ADD PRIMARY KEY (id)"),
    c("uk_to_pk", UK, UK_ROWS, "DROP INDEX uk, ADD PRIMARY KEY (id)"),
    c("ai_add_col", AI, AI_ROWS, "ADD COLUMN z INT").no_pad().after(AI_GAP),
    c("ai_add_index", AI, AI_ROWS, "ADD INDEX (v)").no_pad().after(AI_GAP),
    c("ai_counter_up", AI, AI_ROWS, "AUTO_INCREMENT = 100").no_pad().no_writes().after(AI_GAP),
    c("ai_counter_low", AI, AI_ROWS, "AUTO_INCREMENT = 2").no_pad().no_writes().after(AI_GAP),
    c("ai_counter_in_gap", AI, AI_ROWS, "AUTO_INCREMENT = 7").no_pad().no_writes().after(AI_GAP),
    c("ai_to_bigint", AI, AI_ROWS, "MODIFY id BIGINT NOT NULL AUTO_INCREMENT").no_pad().after(AI_GAP),
    c("ai_to_unsigned", AI, AI_ROWS, "MODIFY id INT UNSIGNED NOT NULL AUTO_INCREMENT").no_pad().after(AI_GAP),
    c("ai_drop_auto", AI, AI_ROWS, "MODIFY id INT NOT NULL").no_pad().after(AI_GAP),
    c("ai_force", AI, AI_ROWS, "FORCE").no_pad().after(AI_GAP),
    c("ai_add_col_and_counter", AI, AI_ROWS, "ADD COLUMN z INT, AUTO_INCREMENT = 50").no_pad().no_writes().after(AI_GAP),
    c("ai_engine", AI, AI_ROWS, "ENGINE=InnoDB").no_pad().after(AI_GAP),
    c("ai_counter_up_copy", AI, AI_ROWS, "ADD INDEX (v), AUTO_INCREMENT = 100").no_pad().no_writes().after(AI_GAP),
    c("ai_counter_low_copy", AI, AI_ROWS, "ADD INDEX (v), AUTO_INCREMENT = 2").no_pad().no_writes().after(AI_GAP),
    c("ai_counter_in_gap_copy", AI, AI_ROWS, "ADD INDEX (v), AUTO_INCREMENT = 6").no_pad().no_writes().after(AI_GAP),
    c("ai_counter_algorithm_copy", AI, AI_ROWS, "AUTO_INCREMENT = 1000, ALGORITHM=COPY").no_pad().no_writes().after(AI_GAP),
    c("ai_padded_add_col", AI, AI_ROWS, "ADD COLUMN z INT").after("DELETE FROM @T WHERE id > 1500"),
    c("ai_make_auto_with_zero", NO_AI, ZERO_ID_ROWS, "MODIFY id INT NOT NULL AUTO_INCREMENT"),
    c("ai_make_auto", NO_AI, ZERO_ID_ROWS, "MODIFY id INT NOT NULL AUTO_INCREMENT").after("DELETE FROM @T WHERE id = 0"),
    c("ai_make_auto_unique_nulls", AI_NULLS, AI_NULL_ROWS, "MODIFY k INT NOT NULL AUTO_INCREMENT UNIQUE"),
    c("ai_secondary_add_col", AI2, AI2_ROWS, "ADD COLUMN z INT").no_pad().after("DELETE FROM @T WHERE id > 4"),
    c("ai_secondary_drop_auto", AI2, AI2_ROWS, "MODIFY n BIGINT UNSIGNED NOT NULL").no_pad(),
];
