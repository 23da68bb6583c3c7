const { DataTypes } = require('sequelize');

module.exports = {
  up: ({ context: qi }) =>
    qi.createTable('items', {
      id: { type: DataTypes.INTEGER, primaryKey: true },
      name: { type: DataTypes.STRING(40), allowNull: false },
    }),
  down: ({ context: qi }) => qi.dropTable('items'),
};
