// changeColumn: ALTER TABLE … CHANGE `price` `price` BIGINT … (a copy).
const { DataTypes } = require('sequelize');

module.exports = {
  up: ({ context: qi }) => qi.changeColumn('items', 'price', { type: DataTypes.BIGINT, allowNull: true }),
  down: ({ context: qi }) => qi.changeColumn('items', 'price', { type: DataTypes.INTEGER, allowNull: true }),
};
