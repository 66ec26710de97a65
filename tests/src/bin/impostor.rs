//! An impostor for the black-box tests: listens on a Unix socket (run as another user, at a
//! data dir's `host.sock`) and prints what every connection sent, so a test can assert that
//! the CLI sent nothing to it. It answers a request line like a host would, to make a
//! CLI that does send print the impostor's reply as genuine.
//!
//! Usage: `impostor SOCKET`. Prints `listening` once bound, then one line per connection:
//! `received N bytes: TEXT`.

#![allow(clippy::print_stdout, reason = "the impostor reports on stdout to its test")]

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: impostor SOCKET");
        std::process::exit(2);
    };
    let listener = UnixListener::bind(&path)?;
    println!("listening");
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        let mut stream = stream?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut received = Vec::new();
        let mut chunk = [0_u8; 4096];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    received.extend_from_slice(&chunk[..n]);
                    if received.contains(&b'\n') {
                        let _ = stream.write_all(b"{\"ok\":true,\"result\":{\"message\":\"from the impostor\"}}\n");
                        break;
                    }
                }
            }
        }
        println!("received {} bytes: {}", received.len(), String::from_utf8_lossy(&received).trim_end());
        std::io::stdout().flush()?;
    }
    Ok(())
}
