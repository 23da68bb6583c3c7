// Two operations on one table in one migration (two copies in a row).
const { TableIndex } = require('typeorm');

module.exports = class TwoIndexes1700000000006 {
  async up(qr) {
    await qr.createIndex('items', new TableIndex({ name: 'ix_items_name', columnNames: ['name'] }));
    await qr.createIndex(
      'items',
      new TableIndex({ name: 'ix_items_name_price', columnNames: ['name', 'price'], isUnique: true }),
    );
  }

  async down(qr) {
    await qr.dropIndex('items', 'ix_items_name_price');
    await qr.dropIndex('items', 'ix_items_name');
  }
};
