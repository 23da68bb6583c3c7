// Runs Sequelize migrations from ./migrations with umzug (the runner
// sequelize-cli uses), one step: `run.js up|down`.
// The database comes from GW_HOST, GW_PORT, GW_USER, GW_PASSWORD, GW_DB.
const path = require('path');
const { Sequelize } = require('sequelize');
const { Umzug, SequelizeStorage } = require('umzug');

const sequelize = new Sequelize(process.env.GW_DB, process.env.GW_USER, process.env.GW_PASSWORD, {
  host: process.env.GW_HOST,
  port: Number(process.env.GW_PORT),
  dialect: 'mysql',
  logging: false,
});
const umzug = new Umzug({
  migrations: { glob: ['migrations/*.js', { cwd: __dirname }] },
  context: sequelize.getQueryInterface(),
  storage: new SequelizeStorage({ sequelize }),
  logger: undefined,
});
umzug[process.argv[2]]({ step: 1 })
  .then(() => sequelize.close())
  .catch((e) => {
    console.error(e);
    sequelize.close().finally(() => process.exit(1));
  });
