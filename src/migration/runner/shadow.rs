//! The shadow table: checks, `CREATE … LIKE` plus the client's ALTER body
//! (in the client's session), and the plan that maps the old table's
//! columns onto the new one and picks the chunking key.

use super::session_bound::{self, Bound};
use super::*;
use crate::migration::binlog::Conflicts;

impl<'a> super::Migration<'a> {
    /// Checks, then creates the shadow table with the client's ALTER applied
    /// and plans the copy. Returns the plans and the estimated row count.
    pub(super) async fn prepare_shadow(&self) -> Result<Prepared> {
        let (schema, table) = (&self.req.schema, &self.req.table);
        // The cut-over is safe only if the helpers' names sort after the
        // table's (see `helper_table`).
        let sorted: Vec<String> = old_table_names(table, self.id)
            .into_iter()
            .filter(|d| d.as_bytes() > table.as_bytes())
            .collect();
        if self.shadow_name.as_bytes() <= table.as_bytes() || sorted.is_empty() {
            return Err(super::super::refused(format!(
                "{schema}.{table}: no helper table name sorts after this table's name, which \
                 the cut-over needs; run this ALTER with /* ghostwire: direct */"
            )));
        }
        let mut conn = self.inner.pool.get_conn().await?;
        let server = self.server()?;
        schema::check_copy_preconditions(&mut conn, server, schema, table).await?;
        schema::check_free(&mut conn, schema, &[&self.shadow_name]).await?;
        // The old table's name: the first free one (a table already at
        // `<t>_<id8>_del` is someone else's, left alone).
        let mut free = None;
        for name in sorted {
            if schema::table_exists(&mut conn, schema, &name)
                .await?
                .is_none()
            {
                free = Some(name);
                break;
            }
        }
        let Some(del) = free else {
            return Err(super::super::refused(format!(
                "{schema}.{table}: every name this migration could give the old table \
                 ({}, with longer tags of the id) is taken; an administrator can drop the \
                 leftovers",
                old_table_name(table, self.id)
            )));
        };
        if del != old_table_name(table, self.id) {
            info!(id = %self.id, old_table = %del, "the first old-table name is taken; using another");
        }
        let _ = self.del_name.set(del);
        let rows_total = schema::table_exists(&mut conn, schema, table)
            .await?
            .unwrap_or(0);
        self.stage("creating shadow table").await?;
        self.create_shadow().await?;
        // CREATE … LIKE starts the counter at 1; rows copied later only move
        // it to their highest id, while a native ALTER keeps the old
        // table's counter (ids of rows deleted at the top are not handed out
        // again) unless the ALTER sets its own. Carried over now, and again
        // under the cut-over lock for ids taken meanwhile.
        let shadow = qualified(schema, &self.shadow_name);
        let old_next = schema::auto_increment(&mut conn, server, schema, table).await?;
        let new_has = schema::auto_increment(&mut conn, server, schema, &self.shadow_name)
            .await?
            .is_some();
        if let (Some(next), true, false) = (old_next, new_has, self.req.sets_auto_increment()) {
            schema::exec(
                &mut conn,
                &format!("ALTER TABLE {shadow} AUTO_INCREMENT = {next}"),
            )
            .await?;
            self.carry_auto_increment.store(true, Ordering::SeqCst);
        }
        schema::check_no_foreign_keys(&mut conn, schema, &self.shadow_name).await?;
        let old = schema::table_info(&mut conn, schema, table).await?;
        let new = schema::table_info(&mut conn, schema, &self.shadow_name).await?;
        self.check_becoming_auto_increment(&mut conn, &old, &new)
            .await?;
        let bound = self.session_bound(&mut conn).await?;
        let (copy_plan, replay, target, compared) = self.plan(&old, &new, &shadow, &bound)?;
        // Where the copy starts: the definitions it starts from (a resume
        // checks them), and the binlog from now on.
        let defs = (
            definition(&mut conn, schema, table).await?,
            definition(&mut conn, schema, &self.shadow_name).await?,
        );
        let binlog = schema::binlog_position(&mut conn, server).await?;
        Ok(Prepared {
            copy_plan,
            replay,
            target,
            compared,
            rows_total,
            start: Start {
                binlog,
                copy: None,
                copy_done: false,
                defs,
            },
        })
    }

    /// Creates the shadow and applies the client's ALTER body to it, on a
    /// connection of its own in the client's session state (SQL mode, time
    /// zone, character set, DDL variables), so the body means what it meant
    /// natively. The body runs as a prepared statement: one statement,
    /// whatever its text, and only after the server ran the same body on the
    /// client's own connection (see the session's `intercept`).
    async fn create_shadow(&self) -> Result<()> {
        let mut conn = Conn::new(self.inner.opts.clone()).await?;
        let result = async {
            let session = &self.req.session;
            let own = match session.server {
                Some(server) => {
                    super::super::client_session::ClientSession::own_ddl_vars(&mut conn, server)
                        .await?
                }
                None => Vec::new(),
            };
            let (set, params) = session.ddl_setup(&own);
            if let Err(e) = conn.exec_drop(set, params).await {
                return Err(match e {
                    mysql_async::Error::Server(e) if e.code == 1227 => {
                        super::super::refused(format!(
                            "the session sets {} differently from ghostwire's own connections, \
                             and ghostwire's account may not set it ({}); set it back or run \
                             the ALTER with /* ghostwire: direct */",
                            session
                                .differing_vars(&own)
                                .map(|(n, v)| format!("{n} = {v}"))
                                .collect::<Vec<_>>()
                                .join(", "),
                            e.message
                        ))
                    }
                    e => e.into(),
                });
            }
            // This connection reads text in the client's character set.
            let cs = &self.req.session.charset_client;
            let encode = |s: &str| {
                crate::protocol::charset::encode(s, cs).ok_or_else(|| {
                    super::super::refused(
                        "the table's name has no form in the client's character set",
                    )
                })
            };
            let shadow = encode(&qualified(&self.req.schema, &self.shadow_name))?;
            let mut create = b"CREATE TABLE ".to_vec();
            create.extend_from_slice(&shadow);
            create.extend_from_slice(b" LIKE ");
            create.extend_from_slice(&encode(&self.original)?);
            // Noted before the CREATE: a process killed right after it
            // must leave a shadow the next instance knows is this
            // migration's (the name was free a moment ago: `check_free`,
            // and the table is reserved). Taken back if the CREATE fails.
            let mut store_conn = self.inner.pool.get_conn().await?;
            store::shadow_created(&mut store_conn, self.id, true).await?;
            if let Err(e) = conn.query_drop(create).await {
                let _ = store::shadow_created(&mut store_conn, self.id, false).await;
                return Err(e.into());
            }
            self.shadow_created.store(true, Ordering::SeqCst);
            let mut alter = if self.req.online {
                b"ALTER ONLINE TABLE ".to_vec()
            } else {
                b"ALTER TABLE ".to_vec()
            };
            alter.extend_from_slice(&shadow);
            alter.push(b' ');
            alter.extend_from_slice(&self.req.body);
            conn.exec_drop(alter, ()).await?;
            Ok::<(), MigrationError>(())
        }
        .await;
        let _ = conn.disconnect().await;
        result
    }

    /// Column mapping and chunking key shared by both tables.
    pub(super) fn plan(
        &self,
        old: &TableInfo,
        new: &TableInfo,
        shadow: &str,
        bound: &[Bound],
    ) -> Result<(CopyPlan, Replay, Target, Compared)> {
        // Which original column feeds each new column, from the ALTER's own
        // operations (a column dropped and added again has no source: it
        // gets what the native ALTER gives it).
        let names = |t: &TableInfo| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        let sources = crate::sql::column_sources(&self.req.ops, &names(old), &names(new));
        let rename = |c: &str| {
            new.columns
                .iter()
                .zip(&sources)
                .find(|(_, s)| s.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(c)))
                .map(|(n, _)| n.name.clone())
                .unwrap_or_default()
        };
        let mut old_list = Vec::new();
        let mut new_list = Vec::new();
        let mut cut = Vec::new();
        let mut compared = Compared::default();
        for (n, source) in new.columns.iter().zip(&sources) {
            let bound = |generated: bool| {
                bound
                    .iter()
                    .find(|b| b.generated == generated && b.name.eq_ignore_ascii_case(&n.name))
            };
            // Generated columns are the server's to compute, in the copy's
            // session for stored ones.
            if n.generated {
                if let Some(b) = bound(true) {
                    return Err(super::super::refused(format!(
                        "the stored generated column {} reads {}, which for the copy that \
                         computes it again is ghostwire's session, not yours; run this ALTER \
                         with /* ghostwire: direct */",
                        b.name, b.reads
                    )));
                }
                continue;
            }
            let Some(c) = source.as_deref().and_then(|s| old.column(s)) else {
                // Values a new column gets that the copy cannot reproduce:
                // numbers in the native ALTER's row order, or a default
                // that depends on the session evaluating it (the copy's
                // session is ghostwire's, not the client's).
                if n.auto_increment {
                    return Err(super::super::refused(format!(
                        "the new AUTO_INCREMENT column {} numbers the rows in the order a native \
                         ALTER reads them, which a chunked copy does not reproduce; run this ALTER \
                         with /* ghostwire: direct */",
                        n.name
                    )));
                }
                if let Some(b) = bound(false) {
                    return Err(super::super::refused(format!(
                        "the new column {}'s default reads {}, which for the copy that \
                         evaluates it is ghostwire's session, not yours; run this ALTER with \
                         /* ghostwire: direct */",
                        b.name, b.reads
                    )));
                }
                let col = ident(&n.name);
                match n.implicit_default().filter(|_| n.no_default) {
                    // The native ALTER gives existing rows the type's
                    // implicit default, even in strict mode; an INSERT
                    // would refuse the row.
                    Some(value) => {
                        old_list.push(value.to_string());
                        new_list.push(col.clone());
                        compared.defaulted.push((value.to_string(), col));
                    }
                    None if !n.auto_increment && n.constant_default && !n.no_default => {
                        compared.defaulted.push((format!("DEFAULT({col})"), col));
                    }
                    None => {}
                }
                continue;
            };
            let mut fed = self
                .req
                .session
                .conversion(&ident(&c.name), &c.data_type, &n.data_type);
            // A NULL put into a column made NOT NULL becomes the field's
            // zero natively ('' for an ENUM, a zero TIMESTAMP), not the
            // implicit default an INSERT would give (the first member, now).
            // (In strict mode such a NULL fails the copy, as natively.)
            if !n.nullable
                && c.nullable
                && !self.req.session.strict()
                && matches!(n.data_type.as_str(), "enum" | "timestamp")
            {
                fed = format!("IFNULL({fed}, 0)");
            }
            old_list.push(fed.clone());
            new_list.push(ident(&n.name));
            if !compared.carried.iter().any(|k| k.col == ident(&c.name)) {
                compared.carried.push(Carried::of(c));
            }
            // Made NOT NULL, a column's NULLs become the type's implicit
            // default (in a lenient session): a conversion too.
            if n.column_type == c.column_type && (n.nullable || !c.nullable) {
                compared.same.push((ident(&c.name), ident(&n.name)));
            } else {
                compared.converted.push((fed, ident(&n.name)));
                if n.data_type == c.data_type && n.data_type != "bit" {
                    cut.push(n.name.clone());
                }
            }
        }
        let key = schema::shared_key(old, new, &rename).map_err(|m| {
            super::super::refused(format!(
                "{} {m} (add one, or run the ALTER with /* ghostwire: direct */)",
                self.original
            ))
        })?;
        let key_name = old
            .keys
            .iter()
            .find(|k| {
                k.identifies_rows
                    && k.columns.len() == key.len()
                    && k.columns.iter().zip(&key).all(|(a, (b, _))| a == b)
            })
            .map(|k| k.name.clone())
            .unwrap_or_else(|| "PRIMARY".into());
        let force_index = if key_name == "PRIMARY" {
            "FORCE INDEX (PRIMARY)".to_string()
        } else {
            format!("FORCE INDEX ({})", ident(&key_name))
        };
        let old_key: Vec<String> = key.iter().map(|(c, _)| ident(c)).collect();
        let new_key: Vec<String> = key.iter().map(|(c, _)| ident(&rename(c))).collect();
        let kinds = key.iter().map(|(_, k)| *k).collect::<Vec<_>>();
        let positions = key
            .iter()
            .map(|(c, k)| (old.column(c).map(|i| i.ordinal).unwrap_or_default(), *k))
            .collect();
        let copy = CopyPlan {
            original: self.original.clone(),
            shadow: shadow.to_string(),
            force_index,
            old_key: old_key.clone(),
            new_key: new_key.clone(),
            select_key: key.iter().map(|(c, k)| k.select(&ident(c))).collect(),
            kinds,
            old_cols: old_list.join(", "),
            new_cols: new_list.join(", "),
            ignore: self.req.ignore,
            keep_zero_ids: new.columns.iter().zip(&sources).any(|(n, s)| {
                n.auto_increment
                    && s.as_deref()
                        .and_then(|s| old.column(s))
                        .is_some_and(|c| c.auto_increment)
            }),
            checks: InsertChecks {
                warnings_fail: self.req.session.strict() && !self.req.ignore,
                cut,
                server: self.req.session.server,
                names: (self.shadow_name.clone(), self.req.table.clone()),
            },
            fence: self.fence(),
            conflicts: Conflicts::new(shadow, &new_key, self.fence(), self.server()?),
        };
        let replay = Replay {
            original: self.original.clone(),
            shadow: shadow.to_string(),
            old_key,
            new_key,
            old_cols: copy.old_cols.clone(),
            new_cols: copy.new_cols.clone(),
            checks: copy.checks.clone(),
            ignore: copy.ignore,
            fence: copy.fence.clone(),
            conflicts: copy.conflicts.clone(),
        };
        let target = Target {
            schema: self.req.schema.clone(),
            table: self.req.table.clone(),
            key: positions,
            sentry: self.del_name().to_string(),
        };
        Ok((copy, replay, target, compared))
    }
}

/// The table's definition fingerprint (`lifecycle::fingerprint`).
async fn definition(conn: &mut Conn, schema: &str, table: &str) -> Result<String> {
    super::super::lifecycle::fingerprint(conn, schema, table)
        .await?
        .ok_or_else(|| MigrationError::Internal(format!("{schema}.{table} is gone")))
}

impl Migration<'_> {
    /// A column the ALTER makes AUTO_INCREMENT numbers its NULLs and zeros
    /// natively, in the order the ALTER reads the rows; a chunked copy
    /// numbers them in another order (and its chunks' numbers can collide):
    /// refused while the column holds any.
    async fn check_becoming_auto_increment(
        &self,
        conn: &mut Conn,
        old: &TableInfo,
        new: &TableInfo,
    ) -> Result<()> {
        let names = |t: &TableInfo| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        let sources = crate::sql::column_sources(&self.req.ops, &names(old), &names(new));
        for (n, source) in new.columns.iter().zip(&sources) {
            let Some(c) = source.as_deref().and_then(|s| old.column(s)) else {
                continue;
            };
            if !n.auto_increment || c.auto_increment {
                continue;
            }
            let col = ident(&c.name);
            let numbered: Option<i64> = conn
                .query_first(format!(
                    "SELECT 1 FROM {} WHERE {col} IS NULL OR {col} = 0 LIMIT 1",
                    self.original
                ))
                .await?;
            if numbered.is_some() {
                return Err(super::super::refused(format!(
                    "{} becomes AUTO_INCREMENT while it holds NULL or 0, which a native ALTER \
                     numbers in the order it reads the rows and a chunked copy cannot; give \
                     those rows values first, or run this ALTER with /* ghostwire: direct */",
                    c.name
                )));
            }
        }
        Ok(())
    }

    /// The new table's columns whose values the copy's session would get
    /// wrong (`session_bound`).
    pub(super) async fn session_bound(&self, conn: &mut Conn) -> Result<Vec<Bound>> {
        let server = self.server()?;
        let utc = session_bound::zone_is_utc(conn, &self.req.session.time_zone).await?;
        let default_div: Option<String> = conn
            .query_first("SELECT @@GLOBAL.div_precision_increment")
            .await?;
        let client_div = self
            .req
            .session
            .vars
            .iter()
            .find(|(name, _)| *name == "div_precision_increment")
            .and_then(|(_, v)| v.clone());
        let client = session_bound::Client {
            utc,
            divides_otherwise: client_div.is_some_and(|v| Some(v) != default_div),
        };
        session_bound::columns(conn, server, &self.req.schema, &self.shadow_name, client).await
    }
}
