# remove_index: DROP INDEX … ON …
class DropPriceIndex < ActiveRecord::Migration[6.1]
  def change
    remove_index :items, :price, name: 'ix_items_price'
  end
end
