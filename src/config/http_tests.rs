//! `[daemon.http]` (where the API listens, its token file, the rule that a
//! server open to the network needs a token) and the jobs' `params`: the
//! values accepted, their defaults, and each refusal placed at its line.

use std::net::SocketAddr;
use std::path::Path;

use super::tests::{check_problems, parse_ok};

fn addr(text: &str) -> Option<SocketAddr> {
    Some(text.parse().expect("address"))
}

#[test]
fn the_server_listens_on_loopback_by_default_and_listen_can_move_or_stop_it() {
    let cases: [(&str, Option<SocketAddr>, Option<&str>); 6] = [
        ("", addr("127.0.0.1:7340"), None),
        ("[daemon.http]\n", addr("127.0.0.1:7340"), None),
        ("[daemon.http]\nlisten = \"\"\n", None, None),
        (
            "[daemon.http]\nlisten = \"[::1]:9000\"\n",
            addr("[::1]:9000"),
            None,
        ),
        (
            "[daemon.http]\nlisten = \"0.0.0.0:7340\"\ntoken_file = \"api-token\"\n",
            addr("0.0.0.0:7340"),
            Some("/etc/cronbox/api-token"),
        ),
        (
            "[daemon]\nhttp = { listen = \"192.0.2.1:80\", token_file = \"/run/t\" }\n",
            addr("192.0.2.1:80"),
            Some("/run/t"),
        ),
    ];
    for (text, listen, token) in cases {
        let http = parse_ok(text).daemon.http;
        assert_eq!(http.listen, listen, "{text}");
        assert_eq!(http.token_file.as_deref(), token.map(Path::new), "{text}");
        assert_eq!(http.token_file_at.is_some(), token.is_some(), "{text}");
        assert_eq!(http.listen_written, text.contains("listen"), "{text}");
    }
}

#[test]
fn a_bad_listen_or_an_open_server_without_a_token_is_refused_at_its_line() {
    check_problems(
        "a host name",
        "[daemon.http]\nlisten = \"localhost:7340\"\n",
        &[(
            2,
            10,
            None,
            &[
                "bad listen \"localhost:7340\"",
                "host names are not looked up",
            ],
        )],
    );
    check_problems(
        "no port",
        "[daemon.http]\nlisten = \"127.0.0.1\"\n",
        &[(
            2,
            10,
            None,
            &["not an IP address and a port", "\"127.0.0.1:7340\""],
        )],
    );
    check_problems(
        "port 0",
        "[daemon.http]\nlisten = \"127.0.0.1:0\"\n",
        &[(2, 10, None, &["port 0"])],
    );
    check_problems(
        "every interface without a token",
        "[daemon.http]\nlisten = \"0.0.0.0:7340\"\n",
        &[(
            2,
            10,
            None,
            &[
                "not a loopback address",
                "set token_file",
                "\"127.0.0.1:7340\"",
            ],
        )],
    );
    check_problems(
        "an empty token_file and an unknown key",
        "[daemon.http]\ntoken_file = \"\"\nport = 80\n",
        &[
            (2, 14, None, &["token_file must not be empty"]),
            (
                3,
                1,
                None,
                &[
                    "unknown key \"port\" in [daemon.http]",
                    "listen, token_file",
                ],
            ),
        ],
    );
    check_problems(
        "http is not a table",
        "[daemon]\nhttp = 7340\n",
        &[(2, 1, None, &["daemon.http must be a table"])],
    );
    check_problems(
        "a misspelt [daemon] key suggests http too",
        "[daemon]\nhtp = {}\n",
        &[(
            2,
            1,
            None,
            &["unknown key \"htp\" in [daemon] (did you mean \"http\"?)"],
        )],
    );
}

#[test]
fn params_are_environment_variable_names_each_once() {
    let text = "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nparams = ['TARGET', '_DAY2']\n";
    assert_eq!(parse_ok(text).jobs[0].params, ["TARGET", "_DAY2"]);
    let inherited = "[defaults]\nparams = ['X']\n[jobs.a]\nschedule = '@daily'\nimage = 'x'\n";
    assert_eq!(parse_ok(inherited).jobs[0].params, ["X"]);
    let none = "[jobs.a]\nschedule = '@daily'\nimage = 'x'\n";
    assert!(parse_ok(none).jobs[0].params.is_empty());
    check_problems(
        "bad names, a repeat, a number",
        "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nparams = ['2X', 'A-B', 'OK', 'OK', 3]\n",
        &[
            (
                4,
                11,
                Some("a"),
                &["params[0] \"2X\" is not an environment variable name"],
            ),
            (4, 17, Some("a"), &["params[1] \"A-B\""]),
            (4, 30, Some("a"), &["params lists \"OK\" twice"]),
            (4, 36, Some("a"), &["params[4] must be a string"]),
        ],
    );
    check_problems(
        "a string",
        "[jobs.a]\nschedule = '@daily'\nimage = 'x'\nparams = 'TARGET'\n",
        &[(
            4,
            10,
            Some("a"),
            &["params must be an array", "write params = [\"TARGET\"]"],
        )],
    );
}
