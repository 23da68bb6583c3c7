// node mysql2 `execute()` (prepares every statement): a prepared ALTER and
// CREATE INDEX, then SHOW MIGRATIONS (through ghostwire only, argv[2] ===
// 'show'). Prints one JSON line: the SHOW MIGRATIONS rows' statements.
const mysql = require('mysql2/promise');

async function main() {
  const conn = await mysql.createConnection({
    host: process.env.GW_HOST,
    port: Number(process.env.GW_PORT),
    user: process.env.GW_USER,
    password: process.env.GW_PASSWORD,
    database: process.env.GW_DB,
  });
  try {
    await conn.execute('ALTER TABLE t ADD COLUMN c INT NULL');
    await conn.execute('CREATE INDEX ic ON t (c, v)');
    let shown = [];
    if (process.argv[2] === 'show') {
      const [rows, fields] = await conn.execute('SHOW MIGRATIONS');
      shown = rows.map((r) => ({ statement: String(r.statement), rows_copied: r.rows_copied }));
      if (fields.length < 3) throw new Error('SHOW MIGRATIONS had ' + fields.length + ' columns');
    }
    console.log(JSON.stringify(shown));
  } finally {
    await conn.end();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
