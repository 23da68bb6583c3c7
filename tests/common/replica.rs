//! A real replica of the test primary, for the throttler: a second server
//! of the same flavour, seeded by hand with the test's tables (no history
//! to replay: on MySQL the primary is shared by every test binary) and
//! replicating, from the primary's current GTID position, only the test's
//! schema and the throttler's heartbeat. Other proxies of the same test
//! process write heartbeat rows the replica never got, so row events on
//! them must not stop it: `IDEMPOTENT` (a seeded-by-hand test replica only).

use mysql_async::prelude::*;
use mysql_async::Conn;

use super::{is_mysql, opts, server, start_mariadb_with, start_mysql, Server, APP_USER};

pub struct Replica {
    pub server: Server,
}

impl Replica {
    /// Starts a replica of `server()` holding `tables` of `schema` as the
    /// primary has them now (CREATE + rows), then replication of `schema.%`
    /// and `_ghostwire.heartbeat` from here on. Nothing may write to those
    /// tables on the primary while this runs.
    pub async fn start(schema: &str, tables: &[&str]) -> Replica {
        let server = tokio::task::spawn_blocking(|| {
            if is_mysql() {
                start_mysql()
            } else {
                start_mariadb_with(2)
            }
        })
        .await
        .unwrap();
        let replica = Replica { server };
        let mut p = primary_conn(schema).await;
        let mut r = replica.conn("mysql").await;
        // The same objects, made by hand on the replica.
        r.query_drop(format!("CREATE DATABASE IF NOT EXISTS `{schema}`"))
            .await
            .unwrap();
        // The throttler's heartbeat table, as ghostwire makes it, on both.
        for c in [&mut p, &mut r] {
            c.query_drop(
                "CREATE DATABASE IF NOT EXISTS `_ghostwire`; \
                 CREATE TABLE IF NOT EXISTS `_ghostwire`.`heartbeat` \
                 (instance CHAR(36) NOT NULL PRIMARY KEY, beat_us BIGINT NOT NULL) ENGINE=InnoDB",
            )
            .await
            .unwrap();
        }
        for t in tables {
            let (_, create): (String, String) = p
                .query_first(format!("SHOW CREATE TABLE `{schema}`.`{t}`"))
                .await
                .unwrap()
                .unwrap();
            r.query_drop(format!("USE `{schema}`")).await.unwrap();
            r.query_drop(create).await.unwrap();
            let rows: Vec<mysql_async::Row> = p
                .query(format!("SELECT * FROM `{schema}`.`{t}`"))
                .await
                .unwrap();
            for chunk in rows.chunks(500) {
                let values: Vec<String> = chunk
                    .iter()
                    .map(|row| {
                        let cells: Vec<String> = row
                            .clone()
                            .unwrap()
                            .iter()
                            .map(|v| v.as_sql(false))
                            .collect();
                        format!("({})", cells.join(", "))
                    })
                    .collect();
                r.query_drop(format!(
                    "INSERT INTO `{schema}`.`{t}` VALUES {}",
                    values.join(", ")
                ))
                .await
                .unwrap();
            }
        }
        let primary = super::server();
        let filter = format!("'{schema}.%', '_ghostwire.heartbeat'");
        if is_mysql() {
            let gtids: String = p
                .query_first("SELECT @@GLOBAL.gtid_executed")
                .await
                .unwrap()
                .unwrap();
            r.query_drop(format!(
                "SET GLOBAL server_id = 2; RESET BINARY LOGS AND GTIDS; \
                 SET GLOBAL replica_exec_mode = 'IDEMPOTENT'; \
                 SET GLOBAL gtid_purged = '{gtids}'; \
                 CHANGE REPLICATION SOURCE TO SOURCE_HOST = '{}', SOURCE_PORT = {}, \
                 SOURCE_USER = '{}', SOURCE_PASSWORD = '{}', SOURCE_AUTO_POSITION = 1, \
                 GET_SOURCE_PUBLIC_KEY = 1; \
                 CHANGE REPLICATION FILTER REPLICATE_WILD_DO_TABLE = ({filter}); \
                 START REPLICA",
                primary.host, primary.port, APP_USER.0, APP_USER.1
            ))
            .await
            .unwrap();
        } else {
            let pos: String = p
                .query_first("SELECT @@GLOBAL.gtid_binlog_pos")
                .await
                .unwrap()
                .unwrap();
            r.query_drop(format!(
                "SET GLOBAL gtid_slave_pos = '{pos}'; SET GLOBAL slave_exec_mode = 'IDEMPOTENT'; \
                 SET GLOBAL replicate_wild_do_table = {}; \
                 CHANGE MASTER TO MASTER_HOST = '{}', MASTER_PORT = {}, MASTER_USER = '{}', \
                 MASTER_PASSWORD = '{}', MASTER_USE_GTID = slave_pos; \
                 START SLAVE",
                filter.replace("', '", ","),
                primary.host,
                primary.port,
                APP_USER.0,
                APP_USER.1
            ))
            .await
            .unwrap();
        }
        replica
    }

    pub fn addr(&self) -> String {
        self.server.addr()
    }

    pub async fn conn(&self, db: &str) -> Conn {
        Conn::new(opts(
            &self.server.host,
            self.server.port,
            APP_USER.0,
            APP_USER.1,
            db,
        ))
        .await
        .unwrap()
    }

    /// Stops / starts applying changes (the I/O thread keeps receiving).
    pub async fn sql_thread(&self, run: bool) {
        let verb = if run { "START" } else { "STOP" };
        let mut r = self.conn("mysql").await;
        r.query_drop(format!("{verb} REPLICA SQL_THREAD"))
            .await
            .unwrap();
        r.disconnect().await.ok();
    }

    /// Waits until the replica has applied everything the primary has now.
    pub async fn catch_up(&self) {
        let mut p = primary_conn("mysql").await;
        let mut r = self.conn("mysql").await;
        // The primary's position now, and the replica's wait for it.
        let (position, wait) = if is_mysql() {
            (
                "@@GLOBAL.gtid_executed",
                "WAIT_FOR_EXECUTED_GTID_SET(?, 60)",
            )
        } else {
            ("@@GLOBAL.gtid_binlog_pos", "MASTER_GTID_WAIT(?, 60)")
        };
        let pos: String = p
            .query_first(format!("SELECT {position}"))
            .await
            .unwrap()
            .unwrap();
        let waited: Option<i64> = r
            .exec_first(format!("SELECT {wait}"), (pos,))
            .await
            .unwrap();
        assert_eq!(waited, Some(0), "the replica caught up within 60 s");
    }
}

async fn primary_conn(db: &str) -> Conn {
    let s = server();
    Conn::new(opts(&s.host, s.port, APP_USER.0, APP_USER.1, db))
        .await
        .unwrap()
}
