// Runs knex migrations from ./migrations: `run.js up|down|latest|rollback [dir]`.
// The database comes from GW_HOST, GW_PORT, GW_USER, GW_PASSWORD, GW_DB.
const path = require('path');
const knex = require('knex')({
  client: 'mysql2',
  connection: {
    host: process.env.GW_HOST,
    port: Number(process.env.GW_PORT),
    user: process.env.GW_USER,
    password: process.env.GW_PASSWORD,
    database: process.env.GW_DB,
  },
});
const dir = path.join(__dirname, process.argv[3] || 'migrations');
knex.migrate[process.argv[2]]({ directory: dir, loadExtensions: ['.js'] })
  .then(() => knex.destroy())
  .catch((e) => {
    console.error(e);
    knex.destroy().finally(() => process.exit(1));
  });
