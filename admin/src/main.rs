//! `mqadmin`: collects the arguments and hands them to [`rmq_admin::run`].

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string().map_err(|raw| anyhow::anyhow!("argument is not valid UTF-8: {raw:?}")))
        .collect::<anyhow::Result<_>>()?;
    let code = rmq_admin::run(&args, rmq_admin::process_ctx());
    std::process::exit(code);
}
