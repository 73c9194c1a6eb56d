//! A named-pipe echo server and a few clients on one runtime (Windows only):
//! every connect, read and write is an overlapped operation on the runtime's
//! completion port, with no helper thread.
//!
//! `cargo run --example named_pipe` (on other platforms it says it needs
//! Windows and exits successfully).

#[cfg(windows)]
fn main() -> std::io::Result<()> {
    use oneport::windows::named_pipe::{ClientOptions, ServerOptions};

    let name = format!(r"\\.\pipe\oneport-echo-{}", std::process::id());
    oneport::run(async move {
        const CLIENTS: usize = 3;
        let mut server = ServerOptions::new()
            .first_pipe_instance(true)
            .create(&name)?;
        let server_name = name.clone();
        let acceptor = oneport::spawn(async move {
            for _ in 0..CLIENTS {
                server.connect().await?;
                // Keep a listening instance for the next client.
                let conn =
                    std::mem::replace(&mut server, ServerOptions::new().create(&server_name)?);
                oneport::spawn(async move {
                    loop {
                        let (n, buf) = conn.read(Vec::with_capacity(4096)).await;
                        if n? == 0 {
                            return std::io::Result::Ok(()); // client hung up
                        }
                        conn.write(buf).await.0?;
                    }
                })
                .detach();
            }
            std::io::Result::Ok(())
        });
        for i in 0..CLIENTS {
            let client = loop {
                match ClientOptions::new().open(&name) {
                    Err(e) if e.raw_os_error() == Some(231) => {
                        oneport::time::sleep(std::time::Duration::from_millis(5)).await
                    }
                    other => break other?,
                }
            };
            let msg = format!("hello from client {i}");
            client.write(msg.clone()).await.0?;
            let (n, buf) = client.read(Vec::with_capacity(4096)).await;
            println!(
                "client {i} got back {:?}",
                String::from_utf8_lossy(&buf[..n?])
            );
        }
        acceptor.await
    })
}

#[cfg(not(windows))]
fn main() {
    println!("the named_pipe example needs Windows (try: cargo run --target x86_64-pc-windows-gnu --example named_pipe)");
}
