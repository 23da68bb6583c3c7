exports.up = (knex) => knex.schema.alterTable('items', (t) => t.integer('price').nullable());
exports.down = (knex) => knex.schema.alterTable('items', (t) => t.dropColumn('price'));
