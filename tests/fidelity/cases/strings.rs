//! CHAR/VARCHAR/TEXT/BLOB/BINARY, charsets and collations, ENUM/SET, JSON,
//! generated columns, and a latin1 table.

use super::{c, Case};

const STR: &str = "id INT NOT NULL PRIMARY KEY, ch CHAR(10), vc VARCHAR(40), tx TEXT, bl BLOB, \
    bn BINARY(4), vb VARBINARY(16), l1 VARCHAR(20) CHARACTER SET latin1";
const STR_ROWS: &str = "VALUES (1, '', '', '', X'', X'', X'', ''), \
    (2, 'Malmö', 'été', '☃ snow 🙂', X'00FF', X'00000000', X'FF', 'Malmö'), \
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
    (4, 'a  ', 'trailing  ', 'x', X'20', 'ab', X'00', 'été'), \
    (5, 'Zürich', 'ÅÄÖ åäö', REPEAT('long ', 200), X'DEADBEEF', X'01020304', X'0102', 'saïson'), \
    (6, 'A', 'a', 'A', 'a', 'A', 'a', 'a')";
/// Same columns, text every target can hold (ASCII, short, valid utf8 blobs).
const STR_ASCII: &str = "VALUES (1, '', '', '', X'', X'', X'', ''), (2, 'abc', 'abc', 'abc', 'abc', 'abcd', 'abc', 'abc'), \
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL), (4, 'x ', 'y ', 'z ', 'w ', 'v', 'u', 't'), (5, '12', '34', '56', '78', '9', '0', '1')";

/// With FULLTEXT and SPATIAL indexes: a converting ALTER's checksum puts the
/// converted values into a temporary table, where InnoDB takes neither.
const FT: &str = "id INT NOT NULL PRIMARY KEY, vc VARCHAR(40), tx TEXT, n INT, \
    FULLTEXT KEY ft (tx), FULLTEXT KEY ft2 (vc)";
const FT_ROWS: &str = "VALUES (1, 'été', 'le ☃ blanc', 1), (2, '', '', 0), (3, NULL, NULL, NULL), \
    (4, 'Malmö', REPEAT('long words ', 50), -7)";
const GEO: &str = "id INT NOT NULL PRIMARY KEY, g POINT NOT NULL, n INT, SPATIAL KEY sp (g)";
const GEO_ROWS: &str =
    "VALUES (1, POINT(1, 2), 1), (2, POINT(-1.5, 0), NULL), (3, POINT(0, 0), 42)";

const ENUMS: &str = "id INT NOT NULL PRIMARY KEY, e ENUM('a','b','c'), s SET('x','y','z'), \
    e2 ENUM('été','hiver') CHARACTER SET utf8mb4";
const ENUM_ROWS: &str =
    "VALUES (1, 'a', '', 'été'), (2, 'b', 'x,y', 'hiver'), (3, 'c', 'x,y,z', NULL), \
    (4, NULL, NULL, 'été'), (5, 'a', 'y', 'hiver'), (6, 'c', 'z,x', 'été')";

const JSONS: &str = "id INT NOT NULL PRIMARY KEY, j JSON, k VARCHAR(20)";
const JSON_ROWS: &str = "VALUES (1, '{\"a\": 1, \"b\": [1, 2.5, null]}', 'x'), (2, '[]', ''), \
    (3, '\"Malmö ☃\"', NULL), (4, NULL, 'y'), (5, '{\"z\": {\"y\": \"été\"}}', 'z'), (6, '123.4560', '{}')";

const GEN: &str = "id INT NOT NULL PRIMARY KEY, a INT, b VARCHAR(20), \
    gv INT AS (a * 2) VIRTUAL, gs VARCHAR(40) AS (CONCAT(b, '-', a)) STORED";
const GEN_ROWS: &str =
    "(id, a, b) VALUES (1, 1, 'x'), (2, NULL, 'é'), (3, -5, NULL), (4, 0, ''), (5, 1000, '☃')";

const L1: &str = "id INT NOT NULL PRIMARY KEY, name VARCHAR(30), note TEXT";
const L1_ROWS: &str = "VALUES (1, 'Malmö', 'été'), (2, '', 'saïson'), (3, NULL, 'Zürich'), (4, 'ÅÄÖ', NULL), (5, 'plain', 'x')";
const L1_OPTS: &str = "ENGINE=InnoDB DEFAULT CHARSET=latin1";

#[rustfmt::skip]
pub const CASES: &[Case] = &[
    c("str_add_default_malmo", STR, STR_ROWS, "ADD COLUMN z VARCHAR(20) NOT NULL DEFAULT 'Malmö'"),
    c("str_add_enum_accents", STR, STR_ROWS, "ADD COLUMN season ENUM('été','hiver') NOT NULL DEFAULT 'été'"),
    c("str_add_snowman_default", STR, STR_ROWS, "ADD COLUMN z VARCHAR(5) DEFAULT '☃'"),
    c("str_column_comment", STR, STR_ROWS, "MODIFY vc VARCHAR(40) COMMENT 'saïson'"),
    c("str_widen", STR, STR_ROWS, "MODIFY vc VARCHAR(100)"),
    c("str_narrow_truncates", STR, STR_ROWS, "MODIFY vc VARCHAR(3)"),
    c("str_narrow_fits", STR, STR_ASCII, "MODIFY vc VARCHAR(5)"),
    c("str_char_to_varchar", STR, STR_ROWS, "MODIFY ch VARCHAR(10)"),
    c("str_varchar_to_char", STR, STR_ROWS, "MODIFY vc CHAR(40)"),
    c("str_text_to_varchar", STR, STR_ROWS, "MODIFY tx VARCHAR(50)"),
    c("str_text_to_varchar_fits", STR, STR_ASCII, "MODIFY tx VARCHAR(50)"),
    c("str_to_int", STR, STR_ROWS, "MODIFY ch INT"),
    c("str_to_int_numeric", STR, STR_ASCII, "MODIFY ch INT").after("UPDATE @T SET ch = NULL WHERE ch NOT IN ('12')"),
    c("str_blob_to_text", STR, STR_ROWS, "MODIFY bl TEXT"),
    c("str_blob_to_text_utf8", STR, STR_ASCII, "MODIFY bl TEXT"),
    c("str_text_to_blob", STR, STR_ROWS, "MODIFY tx BLOB"),
    c("str_binary_to_varbinary", STR, STR_ROWS, "MODIFY bn VARBINARY(4)"),
    c("str_varbinary_to_binary", STR, STR_ROWS, "MODIFY vb BINARY(16)"),
    c("str_varchar_to_varbinary", STR, STR_ROWS, "MODIFY vc VARBINARY(160)"),
    c("str_latin1_to_utf8", STR, STR_ROWS, "MODIFY l1 VARCHAR(20) CHARACTER SET utf8mb4"),
    c("str_utf8_to_latin1", STR, STR_ROWS, "MODIFY vc VARCHAR(40) CHARACTER SET latin1"),
    c("str_text_to_latin1", STR, STR_ROWS, "MODIFY tx TEXT CHARACTER SET latin1"),
    c("str_collate_bin", STR, STR_ROWS, "MODIFY vc VARCHAR(40) COLLATE utf8mb4_bin"),
    c("str_collate_unicode", STR, STR_ROWS, "MODIFY vc VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
    c("str_convert_latin1", STR, STR_ROWS, "CONVERT TO CHARACTER SET latin1"),
    c("str_convert_latin1_fits", STR, STR_ASCII, "CONVERT TO CHARACTER SET latin1"),
    c("str_convert_utf8mb3", STR, STR_ASCII, "CONVERT TO CHARACTER SET utf8mb3"),
    c("str_convert_utf8mb4_bin", STR, STR_ROWS, "CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"),
    c("str_default_charset", STR, STR_ROWS, "DEFAULT CHARSET=latin1"),
    c("str_drop_readd", STR, STR_ROWS, "DROP COLUMN vc, ADD COLUMN vc VARCHAR(40) DEFAULT 'été'"),
    c("str_drop_readd_blob", STR, STR_ROWS, "DROP COLUMN bl, ADD COLUMN bl BLOB"),
    c("str_drop_readd_copy", STR, STR_ROWS, "DROP COLUMN vc, ADD COLUMN vc VARCHAR(40), ALGORITHM=COPY"),
    c("str_rename", STR, STR_ROWS, "RENAME COLUMN vc TO vc2"),
    c("str_change_not_null", STR, STR_ROWS, "CHANGE ch ch2 CHAR(20) NOT NULL DEFAULT ''"),
    c("str_not_null_empty_default", STR, STR_ROWS, "MODIFY vc VARCHAR(40) NOT NULL DEFAULT ''"),
    c("str_prefix_index", STR, STR_ROWS, "ADD INDEX (tx(10))"),
    c("str_fulltext", STR, STR_ROWS, "ADD FULLTEXT INDEX ft (tx)"),
    c("ft_convert_charset", FT, FT_ROWS, "MODIFY vc VARCHAR(40) CHARACTER SET latin1"),
    c("ft_convert_int_to_string", FT, FT_ROWS, "MODIFY n VARCHAR(12)"),
    c("ft_convert_indexed_column", FT, FT_ROWS, "MODIFY tx MEDIUMTEXT CHARACTER SET latin1"),
    c("spatial_convert", GEO, GEO_ROWS, "MODIFY n BIGINT"),
    c("str_gen_virtual", STR, STR_ROWS, "ADD COLUMN g VARCHAR(60) AS (CONCAT(vc, '!')) VIRTUAL"),
    c("str_gen_stored", STR, STR_ROWS, "ADD COLUMN g INT AS (CHAR_LENGTH(tx)) STORED"),
    c("enum_append", ENUMS, ENUM_ROWS, "MODIFY e ENUM('a','b','c','d')"),
    c("enum_reorder", ENUMS, ENUM_ROWS, "MODIFY e ENUM('c','b','a')"),
    c("enum_remove_used", ENUMS, ENUM_ROWS, "MODIFY e ENUM('a','b')"),
    c("enum_insert_middle", ENUMS, ENUM_ROWS, "MODIFY e ENUM('a','x','b','c')"),
    c("enum_to_varchar", ENUMS, ENUM_ROWS, "MODIFY e VARCHAR(5)"),
    c("enum_to_int", ENUMS, ENUM_ROWS, "MODIFY e INT"),
    c("enum_to_set", ENUMS, ENUM_ROWS, "MODIFY e SET('a','b','c')"),
    c("enum_set_default", ENUMS, ENUM_ROWS, "ALTER COLUMN e SET DEFAULT 'b'"),
    c("enum_not_null", ENUMS, ENUM_ROWS, "MODIFY e ENUM('a','b','c') NOT NULL"),
    c("enum_add_accented", ENUMS, ENUM_ROWS, "ADD COLUMN saison ENUM('été','hiver','printemps') NOT NULL DEFAULT 'hiver'"),
    c("enum_extend_accented", ENUMS, ENUM_ROWS, "MODIFY e2 ENUM('été','hiver','automne') CHARACTER SET utf8mb4"),
    c("enum_accented_to_latin1", ENUMS, ENUM_ROWS, "MODIFY e2 ENUM('été','hiver') CHARACTER SET latin1"),
    c("enum_drop_readd", ENUMS, ENUM_ROWS, "DROP COLUMN e, ADD COLUMN e ENUM('a','b','c') NOT NULL DEFAULT 'a'"),
    c("enum_drop_readd_copy", ENUMS, ENUM_ROWS, "DROP COLUMN e, ADD COLUMN e ENUM('a','b','c'), ADD INDEX (s)"),
    c("enum_add_index", ENUMS, ENUM_ROWS, "ADD INDEX (e, s)"),
    c("set_append", ENUMS, ENUM_ROWS, "MODIFY s SET('x','y','z','w')"),
    c("set_reorder", ENUMS, ENUM_ROWS, "MODIFY s SET('z','y','x')"),
    c("set_remove_used", ENUMS, ENUM_ROWS, "MODIFY s SET('x','y')"),
    c("set_to_varchar", ENUMS, ENUM_ROWS, "MODIFY s VARCHAR(20)"),
    c("set_rename", ENUMS, ENUM_ROWS, "CHANGE s flags SET('x','y','z')"),
    c("json_add", JSONS, JSON_ROWS, "ADD COLUMN j2 JSON"),
    c("json_to_text", JSONS, JSON_ROWS, "MODIFY j TEXT"),
    c("json_to_longtext_bin", JSONS, JSON_ROWS, "MODIFY j LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"),
    c("json_gen_virtual", JSONS, JSON_ROWS, "ADD COLUMN a INT AS (JSON_VALUE(j, '$.a')) VIRTUAL"),
    c("json_gen_stored", JSONS, JSON_ROWS, "ADD COLUMN zy VARCHAR(20) AS (JSON_VALUE(j, '$.z.y')) STORED"),
    c("json_gen_index", JSONS, JSON_ROWS, "ADD COLUMN a INT AS (JSON_VALUE(j, '$.a')) STORED, ADD INDEX (a)"),
    c("json_check_fails", JSONS, JSON_ROWS, "ADD CONSTRAINT k_json CHECK (JSON_VALID(k))"),
    c("json_from_varchar", JSONS, JSON_ROWS, "MODIFY k JSON"),
    c("json_drop_readd", JSONS, JSON_ROWS, "DROP COLUMN j, ADD COLUMN j JSON"),
    c("json_drop_readd_copy", JSONS, JSON_ROWS, "DROP COLUMN j, ADD COLUMN j JSON, ALGORITHM=COPY"),
    c("json_rename", JSONS, JSON_ROWS, "RENAME COLUMN j TO doc"),
    c("gen_drop_virtual", GEN, GEN_ROWS, "DROP COLUMN gv"),
    c("gen_drop_stored", GEN, GEN_ROWS, "DROP COLUMN gs"),
    c("gen_virtual_expr", GEN, GEN_ROWS, "MODIFY gv INT AS (a * 3) VIRTUAL"),
    c("gen_stored_expr", GEN, GEN_ROWS, "MODIFY gs VARCHAR(40) AS (CONCAT(a, '+', b)) STORED"),
    c("gen_virtual_to_stored", GEN, GEN_ROWS, "MODIFY gv INT AS (a * 2) STORED"),
    c("gen_stored_to_virtual", GEN, GEN_ROWS, "MODIFY gs VARCHAR(40) AS (CONCAT(b, '-', a)) VIRTUAL"),
    c("gen_modify_base", GEN, GEN_ROWS, "MODIFY a BIGINT"),
    c("gen_drop_base", GEN, GEN_ROWS, "DROP COLUMN a"),
    c("gen_index_virtual", GEN, GEN_ROWS, "ADD INDEX (gv)"),
    c("gen_add_stored", GEN, GEN_ROWS, "ADD COLUMN h INT AS (CHAR_LENGTH(b)) STORED"),
    c("gen_div_zero", GEN, GEN_ROWS, "ADD COLUMN h INT AS (a DIV 0) STORED"),
    c("gen_drop_readd_base", GEN, GEN_ROWS, "DROP COLUMN gv, DROP COLUMN gs, DROP COLUMN a, ADD COLUMN a INT DEFAULT 3"),
    c("l1_convert_utf8mb4", L1, L1_ROWS, "CONVERT TO CHARACTER SET utf8mb4").opts(L1_OPTS),
    c("l1_convert_unicode_520", L1, L1_ROWS, "CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci").opts(L1_OPTS),
    c("l1_add_default_malmo", L1, L1_ROWS, "ADD COLUMN city VARCHAR(20) NOT NULL DEFAULT 'Malmö'").opts(L1_OPTS),
    c("l1_add_enum_accents", L1, L1_ROWS, "ADD COLUMN season ENUM('été','hiver') DEFAULT 'été'").opts(L1_OPTS),
    c("l1_column_comment", L1, L1_ROWS, "MODIFY name VARCHAR(30) COMMENT 'saïson'").opts(L1_OPTS),
    c("l1_table_comment", L1, L1_ROWS, "COMMENT 'saïson'").opts(L1_OPTS),
    c("l1_modify_to_utf8", L1, L1_ROWS, "MODIFY name VARCHAR(30) CHARACTER SET utf8mb4").opts(L1_OPTS),
    c("l1_to_varbinary", L1, L1_ROWS, "MODIFY name VARBINARY(30)").opts(L1_OPTS),
    c("l1_to_blob", L1, L1_ROWS, "MODIFY note BLOB").opts(L1_OPTS),
    c("l1_default_charset_utf8", L1, L1_ROWS, "DEFAULT CHARSET=utf8mb4").opts(L1_OPTS),
    c("l1_accented_column_name", L1, L1_ROWS, "CHANGE name `nâme` VARCHAR(30)").opts(L1_OPTS),
    c("l1_add_accented_column", L1, L1_ROWS, "ADD COLUMN `année` INT DEFAULT 2024").opts(L1_OPTS),
    c("l1_accented_index_name", L1, L1_ROWS, "ADD INDEX `idx_été` (name)").opts(L1_OPTS),
    c("l1_gen_concat", L1, L1_ROWS, "ADD COLUMN g VARCHAR(40) AS (CONCAT(name, ' é')) VIRTUAL").opts(L1_OPTS),
    c("l1_drop_readd_default", L1, L1_ROWS, "DROP COLUMN name, ADD COLUMN name VARCHAR(30) DEFAULT 'Genève'").opts(L1_OPTS),
];
