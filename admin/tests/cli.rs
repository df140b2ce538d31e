//! `MQAdminStartup` behaviour that needs no server: the command list, `help`,
//! unknown commands, option errors and `-h`.

mod common;

use common::*;

const TOPIC_ROUTE_HELP: &str = "usage: mqadmin topicRoute [-h] [-l] [-n <arg>] -t <arg>
 -h,--help                Print help
 -l,--list                Use list format to print data
 -n,--namesrvAddr <arg>   Name server address list, eg: '192.168.0.1:9876;192.168.0.2:9876'
 -t,--topic <arg>         topic name
";

#[tokio::test]
async fn no_arguments_lists_the_commands() {
    let out = mqadmin(&[], None).await;
    assert_eq!(out.status.code(), Some(0));
    // "   %-35s %s%n" per command, in Java's registration order.
    let row = |n: &str, d: &str| format!("   {} {d}\n", l(n, 35));
    let want = [
        "The most commonly used mqadmin commands are:\n".to_string(),
        row("updateTopic", "Update or create topic."),
        row("deleteTopic", "Delete topic from broker and NameServer."),
        row("updateSubGroup", "Update or create subscription group."),
        row("deleteSubGroup", "Delete subscription group from broker."),
        row("updateBrokerConfig", "Update broker's config."),
        row("topicRoute", "Examine topic route info."),
        row("topicStatus", "Examine topic Status info."),
        row("brokerStatus", "Fetch broker runtime status data."),
        row("queryMsgById", "Query Message by Id."),
        row("queryMsgByKey", "Query Message by Key."),
        row("consumerProgress", "Query consumer's progress, speed."),
        row("clusterList", "List cluster infos."),
        row("topicList", "Fetch all topic list from name server."),
        row("updateKvConfig", "Create or update KV config."),
        row("deleteKvConfig", "Delete KV config."),
        row("getNamesrvConfig", "Get configs of name server."),
        row("updateNamesrvConfig", "Update configs of name server."),
        row("getBrokerConfig", "Get broker config by cluster or special broker."),
        "\nSee 'mqadmin help <command>' for more information on a specific command.\n".to_string(),
    ]
    .concat();
    assert_eq!(stdout(&out), want);
}

#[tokio::test]
async fn help_for_a_command() {
    let out = mqadmin(&["help", "topicRoute"], None).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), TOPIC_ROUTE_HELP);
    // Names are matched ignoring case.
    let out = mqadmin(&["help", "TOPICROUTE"], None).await;
    assert_eq!(stdout(&out), TOPIC_ROUTE_HELP);
    let out = mqadmin(&["help", "getNamesrvConfig"], None).await;
    assert_eq!(
        stdout(&out),
        "usage: mqadmin getNamesrvConfig [-h] [-n <arg>]\n -h,--help                Print help\n -n,--namesrvAddr <arg>   Name server address list, eg: '192.168.0.1:9876;192.168.0.2:9876'\n"
    );
    // -h after a complete command line prints the same and exits 0.
    let out = mqadmin(&["topicRoute", "-t", "T", "-h"], None).await;
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), TOPIC_ROUTE_HELP));
}

#[tokio::test]
async fn unknown_commands_exit_zero_like_java() {
    for (args, name) in [(vec!["nosuch"], "nosuch"), (vec!["help", "nosuch"], "nosuch"), (vec!["help"], "help")] {
        let out = mqadmin(&args, None).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(stdout(&out), format!("The sub command {name} not exist.\n"));
        assert_eq!(stderr(&out), "");
    }
    // `help a b` is not the help form: "help" is looked up as a command.
    let out = mqadmin(&["help", "topicRoute", "x"], None).await;
    assert_eq!(stdout(&out), "The sub command help not exist.\n");
}

#[tokio::test]
async fn option_errors_print_message_and_usage_then_exit_one() {
    // Required options are checked before -h, as in commons-cli.
    for args in [vec!["topicRoute"], vec!["topicRoute", "-h"]] {
        let out = mqadmin(&args, None).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&out), "Missing required option: t\n");
        assert_eq!(stdout(&out), TOPIC_ROUTE_HELP);
    }
    let out = mqadmin(&["updateKvConfig", "-s", "NS"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "Missing required options: k, v\n");
    assert!(stdout(&out).starts_with("usage: mqadmin updateKvConfig [-h] -k <arg> [-n <arg>] -s <arg> -v <arg>\n"));

    let out = mqadmin(&["topicRoute", "-t", "T", "-x"], None).await;
    assert_eq!((out.status.code(), stderr(&out).as_str()), (Some(1), "Unrecognized option: -x\n"));
    let out = mqadmin(&["clusterList", "-i"], None).await;
    assert_eq!((out.status.code(), stderr(&out).as_str()), (Some(1), "Missing argument for option: i\n"));
}

/// `OptionGroup`s: usage shows `-b <arg> | -c <arg>` (followed by two spaces: commons-cli
/// adds a separator for the group member it skips as well), a missing required group is
/// reported with the group's `toString`, and two options of a group clash.
#[tokio::test]
async fn option_groups_like_commons_cli() {
    let out = mqadmin(&["help", "brokerStatus"], None).await;
    assert_eq!(
        stdout(&out),
        "usage: mqadmin brokerStatus -b <arg> | -c <arg>  [-h] [-n <arg>]\n\
         \x20-b,--brokerAddr <arg>    Broker address\n\
         \x20-c,--clusterName <arg>   which cluster\n\
         \x20-h,--help                Print help\n\
         \x20-n,--namesrvAddr <arg>   Name server address list, eg: '192.168.0.1:9876;192.168.0.2:9876'\n"
    );
    let out = mqadmin(&["brokerStatus"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "Missing required option: [-b Broker address, -c which cluster]\n");
    let out = mqadmin(&["updateTopic"], None).await;
    assert_eq!(
        stderr(&out),
        "Missing required options: [-b create topic to which broker, -c create topic to which cluster], t\n"
    );
    assert!(
        stdout(&out).starts_with(
            "usage: mqadmin updateTopic [-a <arg>] -b <arg> | -c <arg>  [-h] [-n <arg>] [-o <arg>] [-p <arg>] [-r <arg>]\n       [-s <arg>] -t <arg> [-u <arg>] [-w <arg>]\n"
        ),
        "{}",
        stdout(&out)
    );
    let out = mqadmin(&["brokerStatus", "-b", "x:1", "-c", "C"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "The option 'c' was specified but an option from this group has already been selected: 'b'\n"
    );
}
