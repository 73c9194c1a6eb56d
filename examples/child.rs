//! Runs child processes with oneport: collect the output of one, pipe
//! text through another, and wait for both without a thread per child.
//!
//! `cargo run --example child` (natively, or for x86_64-pc-windows-gnu
//! under Wine).

use std::process::Stdio;

use oneport::process::Command;

/// A shell command line for this platform.
fn shell(script: &str) -> Command {
    let mut c = if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.arg("/c");
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c");
        c
    };
    c.arg(script);
    c
}

fn main() -> std::io::Result<()> {
    oneport::run(async {
        // Collect everything a child prints.
        let out = shell("echo hello from a child").output().await?;
        print!("output(): {}", String::from_utf8_lossy(&out.stdout));
        println!("{}", out.status);

        // Talk to a child through its pipes while it runs.
        // A filter that copies its input: `cat` in sh, `more` in cmd.
        let filter = if cfg!(windows) { "more" } else { "cat" };
        let mut child = shell(filter)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take().expect("piped");
        let writer = oneport::spawn(async move {
            stdin.write_all(b"pear\napple\nfig\n").await?;
            stdin.close().await
        });
        let mut echoed = Vec::new();
        child
            .stdout
            .as_mut()
            .expect("piped")
            .read_to_end(&mut echoed)
            .await?;
        writer.await?;
        print!(
            "child {} echoed:\n{}",
            child.id(),
            String::from_utf8_lossy(&echoed)
        );
        println!("{}", child.wait().await?);
        Ok(())
    })
}
