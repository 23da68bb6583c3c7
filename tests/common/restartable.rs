//! A server of the test's flavour that a test may crash (`kill -9`) and
//! start again on the same data: the harness's shared server must never be
//! restarted (the other tests of the binary, and on MySQL the other
//! binaries, use it).

use std::path::PathBuf;
use std::process::{Child, Command};

use super::{
    external_server, free_port, in_shell, install_mariadb, is_mysql, mariadbd_command, opts,
    wait_ready, APP_USER,
};

pub struct Restartable {
    pub port: u16,
    mariadb: Option<(tempfile::TempDir, u32)>,
    starts: u32,
    keepalive: Vec<Child>,
}

impl Restartable {
    /// Starts it (blocking: call from `spawn_blocking`).
    pub fn start() -> Restartable {
        let port = free_port();
        let mut r = Restartable {
            port,
            mariadb: None,
            starts: 0,
            keepalive: Vec::new(),
        };
        if is_mysql() {
            r.mysql_up(&["--fresh"]);
            // Users and grants, as on every test server.
            let _ = external_server(&format!("mysql://root@127.0.0.1:{port}"));
        } else {
            let dir = tempfile::Builder::new()
                .prefix("ghostwire-restartable-")
                .tempdir()
                .unwrap();
            install_mariadb(dir.path());
            r.mariadb = Some((dir, 0));
            r.start_mariadb();
        }
        r
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn opts(&self, db: &str) -> mysql_async::OptsBuilder {
        opts("127.0.0.1", self.port, APP_USER.0, APP_USER.1, db)
    }

    /// `kill -9`: a crash, not a shutdown (blocking).
    pub fn kill(&mut self) {
        if is_mysql() {
            self.mysql_up(&["--kill"]);
            return;
        }
        let pidfile = self.dir().join("mysqld.pid");
        let pid = std::fs::read_to_string(&pidfile).unwrap_or_default();
        let pid = pid.trim();
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "kill -9 {pid}; while kill -0 {pid} 2>/dev/null; do sleep 0.05; done"
            ))
            .status()
            .unwrap();
        assert!(status.success());
        let _ = std::fs::remove_file(pidfile);
    }

    /// Starts it again on the same data and waits until it answers (blocking).
    pub fn restart(&mut self) {
        if is_mysql() {
            self.mysql_up(&[]);
        } else {
            self.start_mariadb();
        }
    }

    fn dir(&self) -> PathBuf {
        self.mariadb
            .as_ref()
            .expect("a MariaDB")
            .0
            .path()
            .to_path_buf()
    }

    fn start_mariadb(&mut self) {
        self.starts += 1;
        let d = self.dir();
        let d = d.display();
        let log = format!("{d}/error-{}.log", self.starts);
        let mariadbd = mariadbd_command(&d.to_string(), self.port, 1, &log);
        // As for the shared server, it dies with this test process (the
        // reader of our stdin kills it); the shell also waits for it, so a
        // killed server does not linger as a zombie that `kill -0` sees.
        let child = in_shell(&format!(
            "exec 3<&0; {mariadbd} & pid=$!; (read _ <&3; kill -9 $pid 2>/dev/null) & wait $pid"
        ));
        self.keepalive.push(child);
        wait_ready(self.port, std::path::Path::new(&log));
    }

    fn mysql_up(&mut self, args: &[&str]) {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mysql-up.sh");
        let out = Command::new(&script)
            .args(args)
            .arg(self.port.to_string())
            .output()
            .expect("run scripts/mysql-up.sh");
        assert!(
            out.status.success(),
            "scripts/mysql-up.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if self.keepalive.is_empty() {
            let stopper = in_shell(&format!(
                "read _; '{}' --stop {}",
                script.display(),
                self.port
            ));
            self.keepalive.push(stopper);
        }
    }
}
