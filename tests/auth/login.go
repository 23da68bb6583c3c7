// One login per stdin line for tests/auth.rs, with Go's
// github.com/go-sql-driver/mysql (Debian's package, built by the test with
// GOPATH=/usr/share/gocode), as a long-lived process (see login.py for the
// line format and the output; it has no COM_CHANGE_USER).
//
// Debian's driver (1.5) has no allowPublicKeyRetrieval switch: without TLS
// it always asks the server for the RSA key, so MODE is not used. It has no
// ed25519 either.
package main

import (
	"bufio"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/go-sql-driver/mysql"
)

func login(host, port, user, password, db string, tls bool) (out string) {
	// Driver 1.5 dereferences a nil key when the RSA exchange goes wrong
	// (seen with a broken relay): an outcome to report, not a crash.
	defer func() {
		if r := recover(); r != nil {
			out = "err client:panic"
		}
	}()
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = host + ":" + port
	cfg.User = user
	cfg.Passwd = password
	cfg.DBName = db
	// TLS with the certificate unchecked (encryption only), or none.
	cfg.TLSConfig = "false"
	if tls {
		cfg.TLSConfig = "skip-verify"
	}
	conn, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return "err client:dsn"
	}
	defer conn.Close()
	var u, d string
	if err := conn.QueryRow("SELECT CURRENT_USER(), DATABASE()").Scan(&u, &d); err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			return fmt.Sprintf("err %d", me.Number)
		}
		return "err client:" + strings.ReplaceAll(err.Error(), " ", "_")
	}
	return "ok " + u + " " + d
}

func main() {
	// The driver logs unknown plugins to stderr; the outcome line says it.
	mysql.SetLogger(log.New(io.Discard, "", 0))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Split(in.Text(), "\t")
		fmt.Println(login(f[0], f[1], f[2], f[3], f[5], f[7] == "tls"))
	}
}
