const { Table } = require('typeorm');

// TypeORM wants a 13-digit timestamp at the end of each migration's name.
module.exports = class CreateItems1700000000001 {
  async up(qr) {
    await qr.createTable(
      new Table({
        name: 'items',
        columns: [
          { name: 'id', type: 'int', isPrimary: true },
          { name: 'name', type: 'varchar', length: '40', isNullable: false },
        ],
      }),
    );
  }

  async down(qr) {
    await qr.dropTable('items');
  }
};
