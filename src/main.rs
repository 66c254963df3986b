fn main() -> std::process::ExitCode {
    rollc::cli::main()
}
