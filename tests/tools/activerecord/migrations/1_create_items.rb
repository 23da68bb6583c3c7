# ActiveRecord's default key: `id` bigint AUTO_INCREMENT (the copy must
# carry the counter as a native ALTER does).
class CreateItems < ActiveRecord::Migration[6.1]
  def change
    create_table :items do |t|
      t.string :name, limit: 40, null: false
    end
  end
end
