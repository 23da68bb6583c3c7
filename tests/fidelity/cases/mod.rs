//! The corpus: one case a line, grouped by column family. A case names its
//! own table (so names are unique and at most 56 characters: the helper
//! tables add a suffix), its columns, its seed rows and the ALTER body.
//! Every table has an integer `id` column: the writes made while a
//! migration waits address rows by it.

mod keys;
mod numeric;
mod options;
mod strings;
mod temporal;

pub struct Case {
    pub name: &'static str,
    /// Inside `CREATE TABLE name ( … )`.
    pub cols: &'static str,
    /// After `INSERT INTO name `, e.g. `VALUES (1, 'a'), (2, NULL)`.
    pub rows: &'static str,
    /// After `ALTER TABLE name `.
    pub alter: &'static str,
    /// Table options after the column list.
    pub opts: &'static str,
    /// Statements after seeding (and padding); `@T` is the table.
    pub after: &'static str,
    /// `ALTER IGNORE TABLE`.
    pub ignore: bool,
    /// Grow the table by copying the seed under ids + 1000 and + 2000.
    pub pad: bool,
    /// Write to the table while the migration waits. Off where the writes'
    /// new ids would hide what the case is about (AUTO_INCREMENT = n).
    pub writes: bool,
}

pub const fn c(
    name: &'static str,
    cols: &'static str,
    rows: &'static str,
    alter: &'static str,
) -> Case {
    Case {
        name,
        cols,
        rows,
        alter,
        opts: "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        after: "",
        ignore: false,
        pad: true,
        writes: true,
    }
}

impl Case {
    pub const fn opts(mut self, opts: &'static str) -> Case {
        self.opts = opts;
        self
    }
    pub const fn after(mut self, sql: &'static str) -> Case {
        self.after = sql;
        self
    }
    pub const fn ignore(mut self) -> Case {
        self.ignore = true;
        self
    }
    pub const fn no_pad(mut self) -> Case {
        self.pad = false;
        self
    }
    pub const fn no_writes(mut self) -> Case {
        self.writes = false;
        self
    }
}

pub fn all() -> impl Iterator<Item = &'static Case> {
    [
        numeric::CASES,
        strings::CASES,
        temporal::CASES,
        keys::CASES,
        options::CASES,
    ]
    .into_iter()
    .flatten()
}

#[test]
fn the_corpus_is_well_formed() {
    let mut names = std::collections::BTreeSet::new();
    for case in all() {
        assert!(names.insert(case.name), "{} twice", case.name);
        assert!(
            case.name.len() <= 56,
            "{} is too long a table name",
            case.name
        );
        assert!(
            case.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{}",
            case.name
        );
        assert!(
            case.cols.starts_with("id ") || case.cols.contains(", id "),
            "{}: no id column",
            case.name
        );
    }
    assert!(names.len() >= 150, "{} cases", names.len());
}
