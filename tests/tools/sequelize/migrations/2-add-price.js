const { DataTypes } = require('sequelize');

module.exports = {
  up: ({ context: qi }) => qi.addColumn('items', 'price', { type: DataTypes.INTEGER, allowNull: true }),
  down: ({ context: qi }) => qi.removeColumn('items', 'price'),
};
