Sequel.migration do
  up do
    drop_index :items, :price, name: :ix_items_price
  end
  down do
    add_index :items, :price, name: :ix_items_price
  end
end
