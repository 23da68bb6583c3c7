// Go's database/sql with go-sql-driver/mysql: with arguments every
// statement is prepared (the driver's interpolateParams is off by
// default). A prepared ALTER and CREATE INDEX (the argument goes to a
// SELECT on the same connection), then SHOW MIGRATIONS with an argument-
// less prepared statement when os.Args[1] == "show".
package main

import (
	"database/sql"
	"fmt"
	"os"

	"github.com/go-sql-driver/mysql"
)

func main() {
	cfg := mysql.NewConfig()
	cfg.User = os.Getenv("GW_USER")
	cfg.Passwd = os.Getenv("GW_PASSWORD")
	cfg.Net = "tcp"
	cfg.Addr = os.Getenv("GW_HOST") + ":" + os.Getenv("GW_PORT")
	cfg.DBName = os.Getenv("GW_DB")
	db, err := sql.Open("mysql", cfg.FormatDSN())
	check(err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, s := range []string{"ALTER TABLE t ADD COLUMN g INT NULL", "CREATE UNIQUE INDEX ug ON t (g)"} {
		stmt, err := db.Prepare(s)
		check(err)
		_, err = stmt.Exec()
		check(err)
		check(stmt.Close())
	}
	var n int
	check(db.QueryRow("SELECT COUNT(*) FROM t WHERE id > ?", 0).Scan(&n))
	if len(os.Args) > 1 && os.Args[1] == "show" {
		stmt, err := db.Prepare("SHOW MIGRATIONS")
		check(err)
		rows, err := stmt.Query()
		check(err)
		cols, err := rows.Columns()
		check(err)
		count := 0
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]interface{}, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			check(rows.Scan(ptrs...))
			count++
		}
		check(rows.Err())
		fmt.Printf("migrations=%d columns=%d\n", count, len(cols))
	}
	fmt.Printf("rows=%d\n", n)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
