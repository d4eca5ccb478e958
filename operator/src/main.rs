//! gemini-operator: reconciles `GeminiCluster` objects into the Kubernetes objects that run
//! Gemini. This crate is a placeholder until the operator issue builds it; it depends on the
//! engine only through its flags, config keys and port (8086).

fn main() {
    eprintln!("gemini-operator is not built yet: see the operator issue");
    std::process::exit(2);
}
