//! Copies a file with `oneport::fs::File`: several positional reads in
//! flight at once, each written back at its own offset as soon as it lands.
//! On Windows every read and write is overlapped I/O on the runtime's
//! completion port; on Linux they run on a small thread pool.
//!
//! `cargo run --example file_copy -- SOURCE DEST` (without arguments it
//! copies a generated 8 MiB file in the temporary directory and checks it).

use std::rc::Rc;

use oneport::fs::File;

const CHUNK: usize = 256 * 1024;
const IN_FLIGHT: u64 = 4;

async fn copy(src: &str, dst: &str) -> std::io::Result<u64> {
    let src = Rc::new(File::open(src).await?);
    let dst = Rc::new(File::create(dst).await?);
    let len = src.metadata().await?.len();
    // IN_FLIGHT workers; worker w copies chunks w, w + IN_FLIGHT, ...
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|w| {
            let (src, dst) = (src.clone(), dst.clone());
            oneport::spawn(async move {
                let mut buf = Vec::with_capacity(CHUNK);
                let mut start = w * CHUNK as u64;
                while start < len {
                    // Fill the buffer with the chunk at `start` (a read may
                    // return less than asked).
                    buf.clear();
                    while buf.len() < CHUNK {
                        let pos = start + buf.len() as u64;
                        let (n, b) = src.read_at(buf, pos).await;
                        buf = b;
                        if n? == 0 {
                            break;
                        }
                    }
                    // Write it back at the same offset; the buffer comes back
                    // with the result and is reused for the next chunk.
                    let (n, b) = dst.write_at(buf, start).await;
                    buf = b;
                    let mut written = n?;
                    while written < buf.len() {
                        let rest = buf[written..].to_vec();
                        written += dst.write_at(rest, start + written as u64).await.0?;
                    }
                    start += IN_FLIGHT * CHUNK as u64;
                }
                std::io::Result::Ok(())
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    dst.sync_all().await?;
    Ok(len)
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [src, dst] = &args[..] {
        let n = oneport::run(copy(src, dst))?;
        println!("copied {n} bytes");
        return Ok(());
    }
    let dir = std::env::temp_dir();
    let src = dir.join(format!("oneport-copy-src-{}", std::process::id()));
    let dst = dir.join(format!("oneport-copy-dst-{}", std::process::id()));
    let data: Vec<u8> = (0..8u32 << 20).map(|i| (i % 253) as u8).collect();
    std::fs::write(&src, &data)?;
    let n = oneport::run(copy(src.to_str().unwrap(), dst.to_str().unwrap()))?;
    let same = std::fs::read(&dst)? == data;
    std::fs::remove_file(&src)?;
    std::fs::remove_file(&dst)?;
    println!("copied {n} bytes; identical: {same}");
    assert!(same);
    Ok(())
}
