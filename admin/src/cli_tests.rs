//! Expected values produced by the real commons-cli 1.5.0 (Debian's jar) with the
//! same option declarations as the Java sub-commands.

use super::*;

fn opts(cmd: &str) -> Options {
    let mut o = Options::new();
    o.add(Opt::new("h", "help", false, "Print help"));
    o.add(Opt::new("n", "namesrvAddr", true, "Name server address list, eg: '192.168.0.1:9876;192.168.0.2:9876'"));
    match cmd {
        "topicRoute" => {
            o.add(Opt::new("t", "topic", true, "topic name").required());
            o.add(Opt::new("l", "list", false, "Use list format to print data"));
        }
        "updateKvConfig" => {
            o.add(Opt::new("s", "namespace", true, "set the namespace").required());
            o.add(Opt::new("k", "key", true, "set the key name").required());
            o.add(Opt::new("v", "value", true, "set the key value").required());
        }
        "clusterList" => {
            o.add(Opt::new("m", "moreStats", false, "Print more stats"));
            o.add(Opt::new("i", "interval", true, "specify intervals numbers, it is in seconds"));
            o.add(Opt::new("c", "clusterName", true, "which cluster"));
        }
        "multi" => {
            o.add(Opt::new("bn", "brokerName", true, "broker name").required());
            o.add(Opt::new(
                "b",
                "brokerId",
                true,
                "a very long description that should wrap around because it is much longer than the width of one hundred and ten characters in total, yes",
            ));
            o.add(Opt::new("", "longOnly", true, "long only"));
        }
        _ => {}
    }
    o
}

/// Renders a parse result the way the Java oracle printed it.
fn show(cmd: &str, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    match parse(&opts(cmd), &args) {
        Err(e) => format!("ERR {e}"),
        Ok(cl) => {
            let mut s = String::new();
            for (o, v) in &cl.found {
                let vals = if o.has_arg { format!("[{}]", v.join(", ")) } else { "null".into() };
                s.push_str(&format!("{}={vals};", o.key()));
            }
            format!("{s} args=[{}]", cl.args.join(", "))
        }
    }
}

#[test]
fn parses_like_default_parser() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("topicRoute", &[], "ERR Missing required option: t"),
        ("topicRoute", &["-t"], "ERR Missing argument for option: t"),
        ("topicRoute", &["-t", "T"], "t=[T]; args=[]"),
        ("topicRoute", &["-tT", "-l"], "t=[T];l=null; args=[]"),
        ("topicRoute", &["--topic=T"], "t=[T]; args=[]"),
        ("topicRoute", &["--top", "T"], "t=[T]; args=[]"),
        ("topicRoute", &["-topic", "T"], "t=[T]; args=[]"),
        ("topicRoute", &["-t", "-x"], "t=[-x]; args=[]"),
        ("topicRoute", &["-t", "-l"], "ERR Missing argument for option: t"),
        ("topicRoute", &["-t", "T", "-x"], "ERR Unrecognized option: -x"),
        ("topicRoute", &["-t", "T", "--x"], "ERR Unrecognized option: --x"),
        ("topicRoute", &["-t", "T", "extra"], "t=[T]; args=[extra]"),
        ("topicRoute", &["-t", "\"Q\""], "t=[Q]; args=[]"),
        ("topicRoute", &["-t=V"], "t=[V]; args=[]"),
        ("topicRoute", &["-t", "T", "-t", "U"], "t=[T];t=[U]; args=[]"),
        ("topicRoute", &["-t", "-5"], "t=[-5]; args=[]"),
        ("topicRoute", &["-lt", "T"], "l=null;t=[T]; args=[]"),
        ("topicRoute", &["-t", "T", "--", "-x"], "t=[T]; args=[-x]"),
        ("topicRoute", &["-n127.0.0.1:9876", "-t", "T"], "n=[127.0.0.1:9876];t=[T]; args=[]"),
        ("topicRoute", &["-namesrvAddr1.2.3.4:5", "-t", "T"], "n=[1.2.3.4:5];t=[T]; args=[]"),
        ("updateKvConfig", &["-s", "a"], "ERR Missing required options: k, v"),
        ("updateKvConfig", &[], "ERR Missing required options: s, k, v"),
        ("multi", &["-bn", "B"], "bn=[B]; args=[]"),
        ("multi", &["-bnB"], "ERR Missing required option: bn"),
        ("multi", &["-b", "1", "-bn", "x", "--long", "y"], "b=[1];bn=[x];longOnly=[y]; args=[]"),
        ("multi", &["--l", "y", "-bn", "x"], "longOnly=[y];bn=[x]; args=[]"),
        ("multi", &["-bn", "x", "--brokerN=z"], "bn=[x];bn=[z]; args=[]"),
        ("clusterList", &["--name", "x"], "n=[x]; args=[]"),
        ("clusterList", &["--n", "x"], "n=[x]; args=[]"),
        ("clusterList", &["-i"], "ERR Missing argument for option: i"),
        ("clusterList", &["-mi", "5"], "m=null;i=[5]; args=[]"),
        ("clusterList", &["-im", "5"], "i=[m]; args=[5]"),
        ("clusterList", &["-"], " args=[-]"),
        ("clusterList", &["-h", "-x"], "ERR Unrecognized option: -x"),
    ];
    for (cmd, args, want) in cases {
        assert_eq!(show(cmd, args), *want, "{cmd} {args:?}");
    }
}

#[test]
fn value_and_has() {
    let args: Vec<String> = ["--topic", "T", "-t", "U", "-l"].iter().map(|s| s.to_string()).collect();
    let cl = parse(&opts("topicRoute"), &args).unwrap();
    assert!(cl.has("t") && cl.has("topic") && cl.has("l") && !cl.has("n"));
    assert_eq!(cl.value("t"), Some("T"));
    assert_eq!(cl.value("n"), None);
}

#[test]
fn ambiguous_long_prefix() {
    let mut o = Options::new();
    o.add(Opt::new("a", "alpha", true, ""));
    o.add(Opt::new("b", "alps", true, ""));
    let err = parse(&o, &["--alp".to_string(), "x".to_string()]).unwrap_err();
    assert_eq!(err.to_string(), "Ambiguous option: '--alp'  (could be: 'alpha', 'alps')");
}

#[test]
fn help_matches_help_formatter() {
    let help = |cmd: &str| crate::usage::help(&format!("mqadmin {cmd}"), &opts(cmd));
    assert_eq!(
        help("topicRoute"),
        "usage: mqadmin topicRoute [-h] [-l] [-n <arg>] -t <arg>\n\
         \x20-h,--help                Print help\n\
         \x20-l,--list                Use list format to print data\n\
         \x20-n,--namesrvAddr <arg>   Name server address list, eg: '192.168.0.1:9876;192.168.0.2:9876'\n\
         \x20-t,--topic <arg>         topic name\n"
    );
    assert_eq!(
        help("clusterList"),
        "usage: mqadmin clusterList [-c <arg>] [-h] [-i <arg>] [-m] [-n <arg>]\n\
         \x20-c,--clusterName <arg>   which cluster\n\
         \x20-h,--help                Print help\n\
         \x20-i,--interval <arg>      specify intervals numbers, it is in seconds\n\
         \x20-m,--moreStats           Print more stats\n\
         \x20-n,--namesrvAddr <arg>   Name server address list, eg: '192.168.0.1:9876;192.168.0.2:9876'\n"
    );
    assert_eq!(
        help("updateKvConfig"),
        "usage: mqadmin updateKvConfig [-h] -k <arg> [-n <arg>] -s <arg> -v <arg>\n\
         \x20-h,--help                Print help\n\
         \x20-k,--key <arg>           set the key name\n\
         \x20-n,--namesrvAddr <arg>   Name server address list, eg: '192.168.0.1:9876;192.168.0.2:9876'\n\
         \x20-s,--namespace <arg>     set the namespace\n\
         \x20-v,--value <arg>         set the key value\n"
    );
    assert_eq!(
        help("multi"),
        "usage: mqadmin multi [-b <arg>] -bn <arg> [-h] [--longOnly <arg>] [-n <arg>]\n\
         \x20-b,--brokerId <arg>      a very long description that should wrap around because it is much longer than the\n\
         \x20                         width of one hundred and ten characters in total, yes\n\
         \x20-bn,--brokerName <arg>   broker name\n\
         \x20-h,--help                Print help\n\
         \x20   --longOnly <arg>      long only\n\
         \x20-n,--namesrvAddr <arg>   Name server address list, eg: '192.168.0.1:9876;192.168.0.2:9876'\n"
    );
}
