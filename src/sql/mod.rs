//! The one reader of client SQL text. It follows the server's lexer
//! (comments, quotes, executable comments, per flavour and version), because
//! any disagreement lets a client hide text from one side.
//!
//! - `lexer`: tokens and comments as the server sees them.
//! - `classify`: the hot-path first-keywords classifier (no allocation).
//! - `alter`: `ALTER TABLE` table name, body range, column operations.
//! - `columns`: which original column feeds each new column; name decoding.
//! - `index`: `CREATE INDEX` / `DROP INDEX` as their equivalent `ALTER TABLE` body.
//! - `hints`: ghostwire hints in comments and `@ghostwire`.
//! - `tables`: tables a statement names, for routing (the cut-over gate,
//!   `USE`).
//! - `commands`: the proxy's own `SHOW MIGRATIONS` / `ALTER MIGRATION`.

pub mod alter;
pub mod classify;
pub mod columns;
pub mod commands;
pub mod hints;
pub mod index;
pub mod lexer;
pub mod tables;

#[cfg(test)]
mod alter_tests;
#[cfg(test)]
mod columns_tests;
#[cfg(test)]
mod index_tests;
#[cfg(test)]
mod lexer_tests;

pub use alter::{parse_alter, Alter, AlterError, Op};
pub use columns::{column_sources, decode_name, decode_ops};
pub use hints::{session_hint_value, Hints, UnknownHint};
pub use index::{parse_index_ddl, IndexDdl};
pub use lexer::{
    lex, lex_charset, lexable_charset, Charset, Dialect, Flavour, Lexed, Token, TokenKind,
};
