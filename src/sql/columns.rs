//! Which original column feeds each column of the altered table.

use super::alter::Op;

/// Decodes an identifier sent in `charset` (the connection's
/// `character_set_client`), or None when it cannot be decoded faithfully.
pub fn decode_name(bytes: &[u8], charset: &str) -> Option<String> {
    crate::protocol::charset::decode(bytes, charset)
}

impl Op {
    /// This op with its names decoded from `charset` (see `decode_name`).
    pub fn decode(&self, charset: &str) -> Option<Op<String>> {
        let d = |n: &[u8]| decode_name(n, charset);
        Some(match self {
            Op::AddColumn {
                name,
                if_not_exists,
            } => Op::AddColumn {
                name: d(name)?,
                if_not_exists: *if_not_exists,
            },
            Op::DropColumn { name, if_exists } => Op::DropColumn {
                name: d(name)?,
                if_exists: *if_exists,
            },
            Op::Change { old, new } => Op::Change {
                old: d(old)?,
                new: d(new)?,
            },
            Op::Modify { name } => Op::Modify { name: d(name)? },
            Op::RenameColumn { old, new } => Op::RenameColumn {
                old: d(old)?,
                new: d(new)?,
            },
            Op::AlterColumn { name } => Op::AlterColumn { name: d(name)? },
            Op::AddForeignKey => Op::AddForeignKey,
            Op::AddPrimaryKey => Op::AddPrimaryKey,
            Op::DropPrimaryKey => Op::DropPrimaryKey,
            Op::AutoIncrement(n) => Op::AutoIncrement(*n),
            Op::ConvertCharset => Op::ConvertCharset,
            Op::Other(s) => Op::Other(s.clone()),
        })
    }
}

/// Decodes all ops, or None when a name cannot be decoded.
pub fn decode_ops(ops: &[Op], charset: &str) -> Option<Vec<Op<String>>> {
    ops.iter().map(|o| o.decode(charset)).collect()
}

/// Column names compare case-insensitively on both servers.
fn same(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// For each column of the new table (`new`, in order), the column of the
/// original table (`old`) its values come from, or None when it has none and
/// gets its default. On both servers CHANGE/MODIFY/DROP/RENAME COLUMN/ALTER
/// COLUMN name columns of the original table, and ADD adds a new one, so
/// `DROP c, ADD c` empties c and `CHANGE a b, CHANGE b a` swaps.
pub fn column_sources(ops: &[Op<String>], old: &[String], new: &[String]) -> Vec<Option<String>> {
    // Each original column's name in the new table, None once dropped.
    let mut fate: Vec<(String, Option<String>)> =
        old.iter().map(|o| (o.clone(), Some(o.clone()))).collect();
    let mut added: Vec<(&str, bool)> = Vec::new();
    for op in ops {
        match op {
            Op::DropColumn { name, .. } => {
                if let Some(f) = fate.iter_mut().find(|(o, _)| same(o, name)) {
                    f.1 = None;
                }
            }
            Op::Change { old: from, new: to } | Op::RenameColumn { old: from, new: to } => {
                if let Some(f) = fate.iter_mut().find(|(o, _)| same(o, from)) {
                    if f.1.is_some() {
                        f.1 = Some(to.clone());
                    }
                }
            }
            Op::AddColumn {
                name,
                if_not_exists,
            } => added.push((name, *if_not_exists)),
            _ => {}
        }
    }
    let kept = |n: &str| {
        fate.iter()
            .find(|(_, f)| f.as_deref().is_some_and(|f| same(f, n)))
            .map(|(o, _)| o.clone())
    };
    new.iter()
        .map(|n| {
            // MariaDB checks ADD IF NOT EXISTS against the original table
            // (verified on 10.11: `DROP c, ADD IF NOT EXISTS c` adds nothing).
            let adds = added
                .iter()
                .any(|(a, ine)| same(a, n) && !(*ine && old.iter().any(|o| same(o, a))));
            if adds {
                None
            } else {
                kept(n)
            }
        })
        .collect()
}
