//! The `systemprompt` binary.

fn main() -> std::process::ExitCode {
    systemprompt::cli::main()
}
