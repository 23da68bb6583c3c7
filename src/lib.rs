//! ghostwire: a MySQL wire-protocol proxy that runs ALTER TABLE as an online
//! migration. See docs/ARCHITECTURE.md for the module map and key decisions.

pub mod admin;
pub mod app;
pub mod config;
pub mod fdlimit;
pub mod flavour;
pub mod gate;
pub mod metrics;
pub mod migration;
pub mod password_key;
pub mod protocol;
pub mod server;
pub mod sql;
pub mod throttle;
pub mod tls;
