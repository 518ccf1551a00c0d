//! The compiled binary, started and stopped as an orchestrator would: SIGTERM lets
//! in-flight requests finish. (Lives in `api/tests` because only this package's tests can
//! locate the `api` binary; the rest of the black-box suite is in the `tests` crate.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

struct Server {
    child: Child,
    address: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.kill());
    }
}

fn start(extra: &[&str]) -> Server {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_api"))
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .args([
            "--demo-data",
            "false",
            "--argon2-memory-kib",
            "256",
            "--argon2-iterations",
            "1",
        ])
        .args(["--log-filter", "info", "--shutdown-timeout-secs", "10"])
        .args(extra)
        .env_remove("DATABASE_URL")
        .env_remove("APP_MODE")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("the server printed its address")
            .unwrap();
        if let Some((_, rest)) = line.split_once("listening on http://") {
            break rest.trim().to_owned();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        address,
        _data: data,
    }
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_cleanly() {
    let mut server = start(&[]);
    let body = r#"{"query":"{ viewer { id } }"}"#;
    let mut stream = TcpStream::connect(&server.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    write!(
        stream,
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    // Half the body now: the request is in flight when the signal arrives.
    let (head, tail) = body.split_at(10);
    stream.write_all(head.as_bytes()).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    sigterm(&server.child);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );
    // New connections are no longer accepted.
    let refused =
        TcpStream::connect_timeout(&server.address.parse().unwrap(), Duration::from_millis(500));
    if let Ok(mut late) = refused {
        let _ = late.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut buf = [0u8; 16];
        let read = late.read(&mut buf).unwrap_or(0);
        assert_eq!(read, 0, "a connection made after SIGTERM was served");
    }

    stream.write_all(tail.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains(r#"{"data":{"viewer":null}"#),
        "{response}"
    );

    let status = wait_exit(&mut server.child, Duration::from_secs(10));
    assert!(status.success(), "{status}");
}

#[test]
fn production_mode_refuses_to_start_without_a_jwt_secret() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_api"))
        .args([
            "--mode",
            "production",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data.path())
        .env_remove("JWT_SECRET")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
    assert!(
        !data.path().join("marketplace.db").exists(),
        "nothing was created"
    );
}

#[test]
fn print_schema_writes_the_sdl() {
    let output = Command::new(env!("CARGO_BIN_EXE_api"))
        .arg("print-schema")
        .output()
        .unwrap();
    assert!(output.status.success());
    let sdl = String::from_utf8(output.stdout).unwrap();
    assert!(
        sdl.contains("type Query") && sdl.contains("signUp(input: SignUpInput!): SignUpPayload!")
    );
}
