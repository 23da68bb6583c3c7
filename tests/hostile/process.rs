//! Items 8 and 11: the `ghostwire` binary's start-up checks: the open-files
//! limit (raised to the hard limit; too low for max_connections: refused),
//! and a warning for a metrics endpoint that is not on loopback.

use std::io::Write;
use std::process::{Command, Stdio};

use super::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_ghostwire");

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

/// This process's hard open-files limit (children cannot go above it).
fn own_hard_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(4).unwrap().parse().unwrap()
}

#[test]
fn too_few_file_descriptors_for_max_connections_refuses_to_start() {
    let f = config_file(
        "[listen]\naddr = \"127.0.0.1:0\"\nmax_connections = 1000\n\
         [backend]\naddr = \"127.0.0.1:1\"\npassword = \"x\"\n",
    );
    let out = Command::new("prlimit")
        .args(["--nofile=1024:1024", BIN, "serve", "--config"])
        .arg(f.path())
        .output()
        .expect("prlimit (util-linux)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("max_connections = 1000 needs 2256 open files")
            && err.contains("the limit is 1024")
            && err.contains("at most 384"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_limit_is_raised_and_a_public_metrics_endpoint_is_warned_about() {
    let hard = own_hard_limit().min(8192);
    let port = free_port();
    let f = config_file(&format!(
        "[listen]\naddr = \"127.0.0.1:{port}\"\nmax_connections = 100\n\
         [backend]\naddr = \"{}\"\npassword = \"x\"\n[metrics]\naddr = \"0.0.0.0:0\"\n",
        server().addr()
    ));
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new("prlimit")
        .arg(format!("--nofile=512:{hard}"))
        .args([BIN, "serve", "--config"])
        .arg(f.path())
        .stdout(log.reopen().unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // prlimit runs ghostwire in its own process (exec).
    let pid = child.id();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    eventually("ghostwire listens", || async {
        tokio::net::TcpStream::connect(addr).await.is_ok()
    })
    .await;
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .to_string();
    let soft: u64 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(soft, hard, "soft limit raised to the hard one: {line}");
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        text.contains("raised the open-files limit")
            && text.contains("is not a loopback address")
            && text.contains("no authentication"),
        "{text}"
    );
}
