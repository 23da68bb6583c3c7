// Two operations on one table in one migration (two copies in a row).
module.exports = {
  up: async ({ context: qi }) => {
    await qi.addIndex('items', ['name'], { name: 'ix_items_name' });
    await qi.addIndex('items', ['name', 'price'], { name: 'ix_items_name_price', unique: true });
  },
  down: async ({ context: qi }) => {
    await qi.removeIndex('items', 'ix_items_name_price');
    await qi.removeIndex('items', 'ix_items_name');
  },
};
