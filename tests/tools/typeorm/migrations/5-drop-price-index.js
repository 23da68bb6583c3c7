// dropIndex: DROP INDEX … ON …
const { TableIndex } = require('typeorm');

module.exports = class DropPriceIndex1700000000005 {
  async up(qr) {
    await qr.dropIndex('items', 'ix_items_price');
  }

  async down(qr) {
    await qr.createIndex('items', new TableIndex({ name: 'ix_items_price', columnNames: ['price'] }));
  }
};
