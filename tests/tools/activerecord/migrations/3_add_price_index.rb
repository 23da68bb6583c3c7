# add_index: CREATE INDEX … ON …
class AddPriceIndex < ActiveRecord::Migration[6.1]
  def change
    add_index :items, :price, name: 'ix_items_price'
  end
end
