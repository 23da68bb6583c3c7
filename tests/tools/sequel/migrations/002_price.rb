Sequel.migration do
  change do
    add_column :items, :price, Integer, null: true
  end
end
