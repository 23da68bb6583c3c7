// changeColumn to another type: TypeORM drops the column (and its indexes)
// and adds it again (its MySQL driver does so for any type or length
// change), so the values are lost, natively as through ghostwire; hence
// this step comes before the index is added.
const { TableColumn } = require('typeorm');

const price = (type) => new TableColumn({ name: 'price', type, isNullable: true });

module.exports = class PriceBigint1700000000003 {
  async up(qr) {
    await qr.changeColumn('items', 'price', price('bigint'));
  }

  async down(qr) {
    await qr.changeColumn('items', 'price', price('int'));
  }
};
