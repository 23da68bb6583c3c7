Sequel.migration do
  change do
    add_index :items, :price, name: :ix_items_price
  end
end
