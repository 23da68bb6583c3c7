// createIndex: CREATE INDEX … ON …
const { TableIndex } = require('typeorm');

const index = () => new TableIndex({ name: 'ix_items_price', columnNames: ['price'] });

module.exports = class AddPriceIndex1700000000004 {
  async up(qr) {
    await qr.createIndex('items', index());
  }

  async down(qr) {
    await qr.dropIndex('items', 'ix_items_price');
  }
};
