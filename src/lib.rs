//! ghostwire: a MySQL wire-protocol proxy that runs ALTER TABLE as an online
//! migration. See ARCHITECTURE.md for the module map and key decisions.

pub mod protocol;
