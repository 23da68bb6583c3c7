// Runs TypeORM migrations from ./migrations: `run.js up N` applies the
// first N that are pending (TypeORM runs every migration it is given),
// `run.js down` reverts the last one. Each runs in TypeORM's default
// transaction mode.
// The database comes from GW_HOST, GW_PORT, GW_USER, GW_PASSWORD, GW_DB.
const fs = require('fs');
const path = require('path');
const { DataSource } = require('typeorm');

const dir = path.join(__dirname, 'migrations');
const all = fs
  .readdirSync(dir)
  .sort()
  .map((f) => require(path.join(dir, f)));
const [cmd, n] = process.argv.slice(2);
const ds = new DataSource({
  type: 'mysql',
  host: process.env.GW_HOST,
  port: Number(process.env.GW_PORT),
  username: process.env.GW_USER,
  password: process.env.GW_PASSWORD,
  database: process.env.GW_DB,
  migrations: cmd === 'up' ? all.slice(0, Number(n)) : all,
  logging: false,
});
ds.initialize()
  .then(() => (cmd === 'up' ? ds.runMigrations() : ds.undoLastMigration()))
  .then(() => ds.destroy())
  .catch((e) => {
    console.error(e);
    ds.destroy().finally(() => process.exit(1));
  });
