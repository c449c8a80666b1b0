//! Compiles `proto/chirpfarm.proto` with protox (pure Rust, no `protoc` needed), and writes the
//! encoded file descriptor set to `OUT_DIR` for server reflection (`FILE_DESCRIPTOR_SET`).

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/chirpfarm.proto");
    let fds = protox::compile(["chirpfarm.proto"], ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("chirpfarm_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
