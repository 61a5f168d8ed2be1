//! The `fhirdl` binary: everything happens in the library; this only turns its result into the
//! process exit code.

fn main() {
    std::process::exit(fhirdl::run());
}
