use clap::Parser;

fn main() {
    let cli = lediflow_tools::cli::Cli::parse();
    if let Err(e) = lediflow_tools::cli::run(cli) {
        eprintln!("error: {e}");
        let mut source = e.source();
        while let Some(s) = source {
            eprintln!("  caused by: {s}");
            source = s.source();
        }
        std::process::exit(1);
    }
}
