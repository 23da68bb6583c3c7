// addIndex: ALTER TABLE … ADD INDEX …
module.exports = {
  up: ({ context: qi }) => qi.addIndex('items', ['price'], { name: 'ix_items_price' }),
  down: ({ context: qi }) => qi.removeIndex('items', 'ix_items_price'),
};
