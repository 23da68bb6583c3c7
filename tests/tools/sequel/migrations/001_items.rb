Sequel.migration do
  change do
    create_table(:items) do
      Integer :id, primary_key: true, auto_increment: false
      String :name, size: 40, null: false
    end
  end
end
