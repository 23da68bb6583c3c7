const { TableColumn } = require('typeorm');

const price = () => new TableColumn({ name: 'price', type: 'int', isNullable: true });

module.exports = class AddPrice1700000000002 {
  async up(qr) {
    await qr.addColumn('items', price());
  }

  async down(qr) {
    await qr.dropColumn('items', 'price');
  }
};
