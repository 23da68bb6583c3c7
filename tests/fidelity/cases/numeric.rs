//! Integers, DECIMAL, FLOAT/DOUBLE, BIT, and numbers ↔ strings.

use super::{c, Case};

const INTS: &str = "id INT NOT NULL PRIMARY KEY, a TINYINT, b TINYINT UNSIGNED, \
    s SMALLINT, m MEDIUMINT UNSIGNED, e INT, f INT UNSIGNED, g BIGINT, h BIGINT UNSIGNED";
const INT_ROWS: &str = "VALUES \
    (1, -128, 0, -32768, 0, -2147483648, 0, -9223372036854775808, 0), \
    (2, 127, 255, 32767, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615), \
    (3, 0, 1, 0, 1, 0, 1, 0, 1), \
    (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
    (5, -1, 2, -1, 2, -1, 2, -1, 2), \
    (6, 42, 42, 42, 42, 42, 42, 42, 42)";
/// Same columns, values every narrower type can hold.
const SMALL_ROWS: &str = "VALUES (1, -5, 0, -5, 0, -5, 0, -5, 0), (2, 100, 200, 100, 200, 100, 200, 100, 200), \
    (3, 0, 1, 0, 1, 0, 1, 0, 1), (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), (5, 7, 7, 7, 7, 7, 7, 7, 7)";

const DEC: &str = "id INT NOT NULL PRIMARY KEY, d DECIMAL(10,2), du DECIMAL(5,0) UNSIGNED, \
    big DECIMAL(65,30), f FLOAT, db DOUBLE, fp FLOAT(7,3)";
const DEC_ROWS: &str = "VALUES \
    (1, -99999999.99, 0, -99999999999999999999999999999999999.999999999999999999999999999999, -3.4e38, -1.7976931348623157e308, -9999.999), \
    (2, 99999999.99, 99999, 99999999999999999999999999999999999.999999999999999999999999999999, 3.4e38, 1.7976931348623157e308, 9999.999), \
    (3, 0, 0, 0, 0, 0, 0), (4, NULL, NULL, NULL, NULL, NULL, NULL), \
    (5, 0.01, 1, 0.000000000000000000000000000001, 1.17549435e-38, 2.2250738585072014e-308, 0.001), \
    (6, -0.5, 5, 123.456, 0.1, 0.1, 1.5), (7, 12.35, 7, -7.125, 16777217, 9007199254740993, -0.0005)";
/// Same columns, values that fit narrower types.
const DEC_SMALL: &str = "VALUES (1, -12.34, 0, -1.5, -2.5, -3.25, -1.125), (2, 99.99, 999, 1234.5678, 0.1, 0.3, 9.999), \
    (3, 0, 0, 0, 0, 0, 0), (4, NULL, NULL, NULL, NULL, NULL, NULL), (5, 0.05, 1, 0.000001, 1e-7, 1e-15, 0.001)";

const BITS: &str = "id INT NOT NULL PRIMARY KEY, b1 BIT(1), b8 BIT(8), b64 BIT(64)";
const BIT_ROWS: &str = "VALUES (1, b'0', b'0', b'0'), (2, b'1', b'11111111', 0xFFFFFFFFFFFFFFFF), \
    (3, NULL, NULL, NULL), (4, 1, b'1010', b'1'), (5, 0, b'1', 0x8000000000000000)";

const NUMSTR: &str = "id INT NOT NULL PRIMARY KEY, s VARCHAR(30), n INT, u BIGINT UNSIGNED";
const NUMSTR_ROWS: &str = "VALUES (1, '1', 1, 0), (2, '-5', -5, 18446744073709551615), (3, '007', 7, 7), \
    (4, NULL, NULL, NULL), (5, '2147483647', 2147483647, 42), (6, '0', 0, 1), (7, '1.5', -2147483648, 9)";

#[rustfmt::skip]
pub const CASES: &[Case] = &[
    c("int_add_col", INTS, INT_ROWS, "ADD COLUMN z INT NOT NULL DEFAULT 7"),
    // No DEFAULT: existing rows get the type's implicit default natively.
    c("add_not_null_no_default", INTS, INT_ROWS, "ADD COLUMN z INT NOT NULL, ADD COLUMN y VARCHAR(5) NOT NULL, ADD COLUMN x ENUM('p','q') NOT NULL, ADD COLUMN w DATETIME NOT NULL, FORCE"),
    c("int_add_col_first", INTS, INT_ROWS, "ADD COLUMN z BIGINT UNSIGNED DEFAULT 1 FIRST"),
    c("int_add_col_after", INTS, INT_ROWS, "ADD COLUMN z SMALLINT AFTER s"),
    c("int_add_col_null", INTS, INT_ROWS, "ADD COLUMN z MEDIUMINT"),
    c("int_drop_col", INTS, INT_ROWS, "DROP COLUMN s"),
    c("int_drop_two", INTS, INT_ROWS, "DROP COLUMN a, DROP COLUMN h"),
    c("int_drop_readd", INTS, INT_ROWS, "DROP COLUMN e, ADD COLUMN e INT"),
    c("int_drop_readd_default", INTS, INT_ROWS, "DROP COLUMN b, ADD COLUMN b TINYINT UNSIGNED NOT NULL DEFAULT 9"),
    c("int_drop_readd_copy", INTS, INT_ROWS, "DROP COLUMN e, ADD COLUMN e INT, ALGORITHM=COPY"),
    c("int_drop_readd_with_index", INTS, INT_ROWS, "DROP COLUMN f, ADD COLUMN f INT UNSIGNED DEFAULT 3, ADD INDEX (a)"),
    c("int_drop_readd_type", INTS, INT_ROWS, "DROP COLUMN g, ADD COLUMN g VARCHAR(10) DEFAULT 'x'"),
    c("int_widen", INTS, INT_ROWS, "MODIFY a INT"),
    c("int_widen_unsigned", INTS, INT_ROWS, "MODIFY m BIGINT UNSIGNED"),
    c("int_narrow_overflow", INTS, INT_ROWS, "MODIFY e SMALLINT"),
    c("int_narrow_fits", INTS, SMALL_ROWS, "MODIFY e TINYINT"),
    c("int_to_unsigned_neg", INTS, INT_ROWS, "MODIFY a TINYINT UNSIGNED"),
    c("int_to_unsigned_fits", INTS, SMALL_ROWS, "MODIFY f INT"),
    c("int_unsigned_to_signed", INTS, INT_ROWS, "MODIFY h BIGINT"),
    c("int_to_varchar", INTS, INT_ROWS, "MODIFY g VARCHAR(30)"),
    c("int_to_decimal", INTS, INT_ROWS, "MODIFY e DECIMAL(12,2)"),
    c("int_to_double", INTS, INT_ROWS, "MODIFY g DOUBLE"),
    c("int_to_float", INTS, INT_ROWS, "MODIFY e FLOAT"),
    c("int_change_rename", INTS, INT_ROWS, "CHANGE s s2 SMALLINT"),
    c("int_change_type", INTS, INT_ROWS, "CHANGE e e2 BIGINT"),
    c("int_change_not_null", INTS, INT_ROWS, "CHANGE f f2 INT UNSIGNED NOT NULL DEFAULT 0"),
    c("int_rename_col", INTS, INT_ROWS, "RENAME COLUMN m TO m2"),
    c("int_rename_swap", INTS, INT_ROWS, "RENAME COLUMN a TO tmp, RENAME COLUMN s TO a, RENAME COLUMN tmp TO s"),
    c("int_null_to_not_null", INTS, INT_ROWS, "MODIFY f INT UNSIGNED NOT NULL"),
    c("int_not_null_no_nulls", INTS, SMALL_ROWS, "MODIFY a TINYINT NOT NULL").after("DELETE FROM @T WHERE a IS NULL"),
    c("int_set_default", INTS, INT_ROWS, "ALTER COLUMN e SET DEFAULT 5"),
    c("int_drop_default", INTS, INT_ROWS, "ALTER COLUMN e DROP DEFAULT"),
    c("int_default_and_type", INTS, INT_ROWS, "MODIFY e BIGINT DEFAULT -1"),
    c("int_zerofill", INTS, INT_ROWS, "MODIFY f INT(8) UNSIGNED ZEROFILL"),
    c("int_bool", INTS, INT_ROWS, "MODIFY a BOOLEAN"),
    c("int_pk_to_bigint", INTS, INT_ROWS, "MODIFY id BIGINT NOT NULL"),
    c("int_pk_to_unsigned", INTS, INT_ROWS, "MODIFY id INT UNSIGNED NOT NULL"),
    c("int_add_index", INTS, INT_ROWS, "ADD INDEX (e)"),
    c("int_gen_virtual", INTS, INT_ROWS, "ADD COLUMN v BIGINT AS (e + 1) VIRTUAL"),
    c("int_gen_stored", INTS, INT_ROWS, "ADD COLUMN v BIGINT AS (e * 2) STORED"),
    c("int_gen_stored_index", INTS, INT_ROWS, "ADD COLUMN v INT AS (a + b) STORED, ADD INDEX (v)"),
    c("int_move_col", INTS, INT_ROWS, "MODIFY h BIGINT UNSIGNED FIRST"),
    c("int_move_col_after", INTS, INT_ROWS, "MODIFY a TINYINT AFTER h"),
    c("dec_add_col", DEC, DEC_ROWS, "ADD COLUMN z DECIMAL(8,3) NOT NULL DEFAULT 1.5"),
    c("dec_drop_readd", DEC, DEC_ROWS, "DROP COLUMN d, ADD COLUMN d DECIMAL(10,2) DEFAULT 3.14"),
    c("dec_drop_readd_copy", DEC, DEC_ROWS, "DROP COLUMN d, ADD COLUMN d DECIMAL(10,2), ALGORITHM=COPY"),
    c("dec_widen", DEC, DEC_ROWS, "MODIFY d DECIMAL(12,4)"),
    c("dec_round", DEC, DEC_SMALL, "MODIFY d DECIMAL(10,1)"),
    c("dec_overflow", DEC, DEC_ROWS, "MODIFY d DECIMAL(5,2)"),
    c("dec_to_int", DEC, DEC_SMALL, "MODIFY d INT"),
    c("dec_to_varchar", DEC, DEC_ROWS, "MODIFY big VARCHAR(80)"),
    c("dec_to_double", DEC, DEC_ROWS, "MODIFY big DOUBLE"),
    c("dec_unsigned_to_signed", DEC, DEC_ROWS, "MODIFY du DECIMAL(5,0)"),
    c("dec_rename", DEC, DEC_ROWS, "RENAME COLUMN fp TO fp2"),
    c("dec_change", DEC, DEC_ROWS, "CHANGE du du2 DECIMAL(7,2) UNSIGNED"),
    c("float_to_double", DEC, DEC_ROWS, "MODIFY f DOUBLE"),
    c("double_to_float_overflow", DEC, DEC_ROWS, "MODIFY db FLOAT"),
    c("double_to_float_fits", DEC, DEC_SMALL, "MODIFY db FLOAT"),
    c("double_to_decimal", DEC, DEC_SMALL, "MODIFY db DECIMAL(20,5)"),
    c("float_to_varchar", DEC, DEC_ROWS, "MODIFY f VARCHAR(40)"),
    c("float_m_d_to_float", DEC, DEC_ROWS, "MODIFY fp FLOAT"),
    c("float_drop_readd", DEC, DEC_ROWS, "DROP COLUMN f, ADD COLUMN f FLOAT NOT NULL DEFAULT 0.5"),
    c("bit_add", BITS, BIT_ROWS, "ADD COLUMN z BIT(3) NOT NULL DEFAULT b'101'"),
    c("bit_widen", BITS, BIT_ROWS, "MODIFY b8 BIT(16)"),
    c("bit_narrow", BITS, BIT_ROWS, "MODIFY b8 BIT(4)"),
    c("bit_to_bigint", BITS, BIT_ROWS, "MODIFY b64 BIGINT UNSIGNED"),
    c("bit_to_varbinary", BITS, BIT_ROWS, "MODIFY b8 VARBINARY(8)"),
    c("bit_to_tinyint", BITS, BIT_ROWS, "MODIFY b1 TINYINT"),
    c("bit_drop_readd", BITS, BIT_ROWS, "DROP COLUMN b1, ADD COLUMN b1 BIT(1) DEFAULT b'1'"),
    c("bit_rename", BITS, BIT_ROWS, "CHANGE b64 b64x BIT(64)"),
    c("int_from_bit", BITS, BIT_ROWS, "MODIFY b8 SMALLINT UNSIGNED"),
    c("numstr_to_int", NUMSTR, NUMSTR_ROWS, "MODIFY s INT"),
    c("numstr_to_tinyint", NUMSTR, NUMSTR_ROWS, "MODIFY s TINYINT"),
    c("numstr_to_unsigned", NUMSTR, NUMSTR_ROWS, "MODIFY s INT UNSIGNED"),
    c("numstr_to_decimal", NUMSTR, NUMSTR_ROWS, "MODIFY s DECIMAL(12,2)"),
    c("numstr_to_double", NUMSTR, NUMSTR_ROWS, "MODIFY s DOUBLE"),
    c("numstr_int_to_char_short", NUMSTR, NUMSTR_ROWS, "MODIFY n CHAR(3)"),
    c("numstr_int_to_varchar", NUMSTR, NUMSTR_ROWS, "MODIFY n VARCHAR(20)"),
    c("numstr_unsigned_to_varchar", NUMSTR, NUMSTR_ROWS, "MODIFY u VARCHAR(25)"),
    c("numstr_int_to_varbinary", NUMSTR, NUMSTR_ROWS, "MODIFY n VARBINARY(20)"),
    c("numstr_int_to_text", NUMSTR, NUMSTR_ROWS, "MODIFY n TEXT"),
    c("numstr_int_to_enum", NUMSTR, NUMSTR_ROWS, "MODIFY n ENUM('1','-5','7')"),
    c("numstr_unsigned_overflow", NUMSTR, NUMSTR_ROWS, "MODIFY u BIGINT"),
    c("numstr_int_to_year", NUMSTR, NUMSTR_ROWS, "MODIFY n YEAR"),
];
