// Two operations on one table in one migration (two copies in a row).
exports.up = (knex) =>
  knex.schema.alterTable('items', (t) => {
    t.index(['name'], 'ix_items_name');
    t.unique(['name', 'price'], { indexName: 'ix_items_name_price' });
  });
exports.down = (knex) =>
  knex.schema.alterTable('items', (t) => {
    t.dropUnique(['name', 'price'], 'ix_items_name_price');
    t.dropIndex(['name'], 'ix_items_name');
  });
