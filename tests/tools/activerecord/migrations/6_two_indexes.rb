# Two operations on one table in one migration (two copies in a row).
class TwoIndexes < ActiveRecord::Migration[6.1]
  def change
    add_index :items, :name, name: 'ix_items_name'
    add_index :items, %i[name price], name: 'ix_items_name_price', unique: true
  end
end
