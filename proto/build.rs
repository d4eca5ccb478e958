//! Compiles the .proto files with protox (pure Rust, no system protoc) and prost.
fn main() {
    let files = ["proto/remote.proto", "proto/write_v2.proto"];
    for f in files.iter().chain(&["proto/types.proto"]) {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"]).expect("compile .proto files");
    prost_build::Config::new()
        .compile_fds(fds)
        .expect("generate Rust from .proto files");
}
