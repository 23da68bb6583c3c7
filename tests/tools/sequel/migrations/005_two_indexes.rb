# Two operations on one table in one migration (two copies in a row).
Sequel.migration do
  change do
    add_index :items, :name, name: :ix_items_name
    add_index :items, [:name, :price], name: :ix_items_name_price, unique: true
  end
end
