exports.up = (knex) =>
  knex.schema.createTable('items', (t) => {
    t.integer('id').primary();
    t.string('name', 40).notNullable();
  });
exports.down = (knex) => knex.schema.dropTable('items');
