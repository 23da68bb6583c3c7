exports.up = (knex) => knex.schema.alterTable('items', (t) => t.dropIndex(['price'], 'ix_items_price'));
exports.down = (knex) => knex.schema.alterTable('items', (t) => t.index(['price'], 'ix_items_price'));
