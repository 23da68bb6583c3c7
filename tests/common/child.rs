//! ghostwire as a real child process (the built binary), so a test can
//! `kill -9` it: nothing of it survives but what it wrote to the server.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use super::{free_port, server, GHOSTWIRE_USER};

pub struct Child {
    process: std::process::Child,
    pub port: u16,
    metrics_port: u16,
    _config: tempfile::NamedTempFile,
}

impl Child {
    /// Starts ghostwire with `extra` TOML appended (e.g. `[migrations]`
    /// settings), and waits until it listens.
    pub async fn start(extra: &str) -> Child {
        let (port, metrics_port) = (free_port(), free_port());
        let mut config = tempfile::NamedTempFile::new().unwrap();
        write!(
            config,
            "[listen]\naddr = \"127.0.0.1:{port}\"\n[backend]\naddr = \"{}\"\nuser = \"{}\"\n\
             password = \"{}\"\n[metrics]\naddr = \"127.0.0.1:{metrics_port}\"\n{extra}\n",
            server().addr(),
            GHOSTWIRE_USER.0,
            GHOSTWIRE_USER.1,
        )
        .unwrap();
        let log = std::env::var("GHOSTWIRE_LOG").is_ok();
        let process = Command::new(env!("CARGO_BIN_EXE_ghostwire"))
            .args(["serve", "--config"])
            .arg(config.path())
            .env(
                "GHOSTWIRE_LOG",
                std::env::var("GHOSTWIRE_LOG").unwrap_or("warn".into()),
            )
            .stdout(if log { Stdio::inherit() } else { Stdio::null() })
            .stderr(if log { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .unwrap();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        super::eventually("ghostwire listens", || async {
            tokio::net::TcpStream::connect(addr).await.is_ok()
        })
        .await;
        Child {
            process,
            port,
            metrics_port,
            _config: config,
        }
    }

    /// A connection through this ghostwire as the application's user.
    pub async fn conn(&self, schema: &str) -> mysql_async::Conn {
        let (user, pass) = super::APP_USER;
        mysql_async::Conn::new(super::opts("127.0.0.1", self.port, user, pass, schema))
            .await
            .expect("connect through ghostwire")
    }

    /// Sends `signal` (`STOP`, `CONT`, …) with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &self.process.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal}");
    }

    /// SIGKILL: no cleanup of any kind runs.
    pub fn kill9(&mut self) {
        self.process.kill().unwrap();
        self.process.wait().unwrap();
    }

    /// SIGTERM, then waits until the process has ended (its shutdown ran).
    pub async fn terminate(&mut self) {
        self.signal("TERM");
        let process = &mut self.process;
        let mut ended = false;
        super::eventually("ghostwire ends after SIGTERM", || {
            ended = ended || process.try_wait().unwrap().is_some();
            std::future::ready(ended)
        })
        .await;
    }

    /// The sum of a counter (all label sets) in this process's metrics.
    pub fn counter(&self, name: &str) -> f64 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
