//! `mqadmin`: RocketMQ administration sub-commands that behave and print like
//! Java RocketMQ 5.3.3's `MQAdminStartup`.
//!
//! * [`run`] is `MQAdminStartup.main0`: no arguments lists the commands,
//!   `help <cmd>` prints a command's usage, anything else parses the sub-command's
//!   options with commons-cli rules ([`cli`], [`usage`]) and executes it.
//! * One module per command group: [`cluster`], [`topic`], [`namesrv`],
//!   [`topic_admin`], [`group`], [`progress`], [`broker_cmds`], [`message`];
//!   [`broker_api`] holds the broker requests they send.
//! * [`client`] sends the requests the way `DefaultMQAdminExt` does; [`format`]
//!   and [`jcoll`] reproduce Java's number formatting and collection orders.
//!
//! Exit status: 0 on success, after help, and for an unknown sub-command (as Java);
//! 1 when the options do not parse (Java's `System.exit(1)`) and — unlike Java,
//! which prints the stack trace and still exits 0 — when the command fails.

pub mod admin_body;
pub mod broker_api;
pub mod broker_cmds;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod error;
pub mod format;
pub mod group;
pub mod jcoll;
pub mod jtime;
pub mod message;
pub mod namesrv;
pub mod progress;
pub mod topic;
pub mod topic_admin;
pub mod usage;

use std::future::Future;
use std::io::Write;
use std::pin::Pin;

use cli::{CommandLine, Opt, Options};
use error::Failure;

/// Where a command writes, and the name server list it was given.
pub struct Ctx {
    pub out: Box<dyn Write>,
    pub err: Box<dyn Write>,
    /// `-n` if given, else `NAMESRV_ADDR` (the `rocketmq.namesrv.addr` property Java sets).
    pub namesrv: Option<String>,
}

impl Ctx {
    /// `System.out.print`: written and flushed at once (the `-i` loop prints forever).
    /// Like Java's `PrintStream`, write errors (a closed pipe) are ignored.
    pub fn print(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
        let _ = self.out.flush();
    }

    /// `System.err.print`.
    pub fn eprint(&mut self, s: &str) {
        let _ = self.err.write_all(s.as_bytes());
        let _ = self.err.flush();
    }
}

/// What a sub-command's `execute` returns.
pub type CmdFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Failure>> + 'a>>;

/// One sub-command (`SubCommand`): name, description, options, and the action.
pub struct SubCommand {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub desc: &'static str,
    /// `buildCommandlineOptions`: adds the command's own options.
    pub options: fn(&mut Options),
    pub execute: for<'a> fn(&'a mut Ctx, &'a CommandLine) -> CmdFuture<'a>,
}

impl SubCommand {
    /// `ServerUtil.buildCommandlineOptions` (`-h`, `-n`) plus the command's options.
    pub fn all_options(&self) -> Options {
        let mut o = Options::new();
        o.add(Opt::new("h", "help", false, "Print help"));
        o.add(Opt::new("n", "namesrvAddr", true, "Name server address list, eg: '192.168.0.1:9876;192.168.0.2:9876'"));
        (self.options)(&mut o);
        o
    }

    fn help(&self) -> String {
        usage::help(&format!("mqadmin {}", self.name), &self.all_options())
    }
}

/// The implemented sub-commands, in Java's registration order. Java 5.3.3 registers
/// about 90; the command list (`mqadmin` without arguments) shows only these, in the
/// same relative order, and the others are reported as not existing until added here.
pub fn commands() -> Vec<SubCommand> {
    let mut v = Vec::new();
    v.extend(topic_admin::update_commands());
    v.extend(topic_admin::delete_commands());
    v.extend(group::update_commands());
    v.extend(group::delete_commands());
    v.extend(broker_cmds::update_commands());
    v.extend(topic::route_commands());
    v.extend(topic_admin::status_commands());
    v.extend(broker_cmds::status_commands());
    v.extend(message::commands());
    v.extend(progress::commands());
    v.extend(cluster::commands());
    v.extend(topic::list_commands());
    v.extend(namesrv::kv_commands());
    v.extend(namesrv::config_commands());
    v.extend(broker_cmds::get_commands());
    v
}

/// `findSubCommand`: name or alias, ignoring case.
pub fn find<'a>(cmds: &'a [SubCommand], name: &str) -> Option<&'a SubCommand> {
    cmds.iter().find(|c| c.name.eq_ignore_ascii_case(name) || c.alias.is_some_and(|a| a.eq_ignore_ascii_case(name)))
}

/// `printHelp()`: the command list.
pub fn command_list(cmds: &[SubCommand]) -> String {
    let mut s = String::from("The most commonly used mqadmin commands are:\n");
    for c in cmds {
        s.push_str(&format!("   {} {}\n", format::left(c.name, 35), c.desc));
    }
    s.push_str("\nSee 'mqadmin help <command>' for more information on a specific command.\n");
    s
}

/// `MQAdminStartup.main0`; returns the exit status.
pub fn run(args: &[String], mut ctx: Ctx) -> i32 {
    let cmds = commands();
    if args.is_empty() {
        ctx.print(&command_list(&cmds));
        return 0;
    }
    if args.len() == 2 && args[0] == "help" {
        match find(&cmds, &args[1]) {
            Some(cmd) => ctx.print(&cmd.help()),
            None => ctx.print(&format!("The sub command {} not exist.\n", args[1])),
        }
        return 0;
    }
    let Some(cmd) = find(&cmds, &args[0]) else {
        ctx.print(&format!("The sub command {} not exist.\n", args[0]));
        return 0;
    };
    let command_line = match cli::parse(&cmd.all_options(), &args[1..]) {
        Ok(cl) => cl,
        Err(e) => {
            ctx.eprint(&format!("{e}\n"));
            ctx.print(&cmd.help());
            return 1;
        }
    };
    if command_line.has("h") {
        ctx.print(&cmd.help());
        return 0;
    }
    if let Some(n) = command_line.value("n") {
        ctx.namesrv = Some(n.to_string());
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            ctx.eprint(&format!("cannot start the I/O runtime: {e}\n"));
            return 1;
        }
    };
    let result = runtime.block_on((cmd.execute)(&mut ctx, &command_line));
    match result {
        Ok(()) => 0,
        Err(f) => {
            ctx.eprint(&f.render());
            1
        }
    }
}

/// A `Ctx` on the process's stdout/stderr with the `NAMESRV_ADDR` default.
pub fn process_ctx() -> Ctx {
    Ctx { out: Box::new(std::io::stdout()), err: Box::new(std::io::stderr()), namesrv: rmq_common::env::namesrv_addr() }
}
