//! The `flashbulb` binary: parses the command line and hands over to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = flashbulb::cli::Cli::parse();
    match flashbulb::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("flashbulb: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
