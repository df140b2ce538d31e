use clap::Parser;

fn main() {
    let cli = rmq_migrate::cli::Cli::parse();
    std::process::exit(rmq_migrate::run(cli));
}
