# change_column: ALTER TABLE … CHANGE `price` `price` bigint (a copy).
class PriceBigint < ActiveRecord::Migration[6.1]
  def up
    change_column :items, :price, :bigint
  end

  def down
    change_column :items, :price, :integer
  end
end
