//! Execution control against a real engine: timeout and deadline, exit-code
//! rules, OOM classification, isolation (read-only root, no network, secrets,
//! env_file values kept out of the database), and the output cap.

mod common;

use common::TestEnv;
use cronbox::store::RunStatus;

#[tokio::test]
async fn a_sleeping_job_is_stopped_at_its_timeout_by_sigterm_and_retried() {
    let env = TestEnv::new(
        r#"
[jobs.sleepy]
schedule = "@daily"
image = "IMAGE"
command = ["sleep", "600"]
timeout = "2s"
stop_grace = "30s"
retries = 1
backoff = "1s"
"#,
    );
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Failed));
    assert_eq!(
        report.attempts, 2,
        "a timeout counts as a failure and is retried"
    );
    // 143 = 128 + SIGTERM: the init forwarded the stop signal and sleep died of it,
    // long before the 30 s grace would have ended in SIGKILL (137).
    assert_eq!(
        env.sql("SELECT attempt, outcome, exit_code FROM attempts ORDER BY attempt"),
        "1|timeout|143\n2|timeout|143\n"
    );
    assert!(env.containers_gone().await);
}

#[tokio::test]
async fn a_deadline_stops_the_running_attempt_and_any_further_retry() {
    let env = TestEnv::new(
        r#"
[jobs.slow]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "echo started; sleep 600"]
deadline = "3s"
retries = 5
backoff = "1s"
"#,
    );
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Failed));
    assert_eq!(report.attempts, 1, "no attempt after the deadline");
    assert_eq!(env.sql("SELECT outcome FROM attempts"), "deadline\n");
    assert_eq!(env.sql("SELECT status FROM runs"), "failed\n");
}

#[tokio::test]
async fn a_deadline_during_backoff_fails_the_run_without_another_attempt() {
    let env = TestEnv::new(
        r#"
[jobs.failing]
schedule = "@daily"
image = "IMAGE"
command = ["false"]
deadline = "2s"
retries = 3
backoff = "1m"
"#,
    );
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Failed));
    assert_eq!(report.attempts, 1);
    assert!(
        env.sql("SELECT reason FROM runs").contains("deadline"),
        "{}",
        env.sql("SELECT reason FROM runs")
    );
    assert_eq!(env.sql("SELECT retry_at IS NULL FROM runs"), "1\n");
}

#[tokio::test]
async fn fatal_exit_codes_are_not_retried_and_success_codes_succeed() {
    let env = TestEnv::new(
        r#"
[jobs.usage]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "exit 64"]
retries = 3
backoff = "1s"
fatal_exit_codes = [64]
"#,
    );
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Failed));
    assert_eq!(report.attempts, 1, "a fatal exit code is not retried");
    assert_eq!(
        env.sql("SELECT outcome, exit_code FROM attempts"),
        "exited|64\n"
    );

    let env = TestEnv::new(
        r#"
[jobs.nothing-to-do]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "exit 3"]
retries = 3
success_exit_codes = [0, 3]
"#,
    );
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Succeeded));
    assert_eq!(report.attempts, 1);
}

#[tokio::test]
async fn an_oom_kill_under_a_memory_limit_is_classified_oom() {
    let env = TestEnv::new(
        r#"
[jobs.hungry]
schedule = "@daily"
image = "IMAGE"
# sort holds all of its 100 MB input in memory: far beyond the limit. Whichever
# process the kernel kills, the count comes out short and the job fails.
command = ["sh", "-c", "head -c 100000000 /dev/zero | tr '\\0' x | sort | wc -c | grep -qx 100000001"]
memory = "16MiB"
"#,
    );
    let capabilities = common::engine()
        .await
        .capabilities()
        .await
        .expect("the engine's /info");
    let facts = memory_facts().await;
    if !capabilities.memory {
        // No memory cgroup (a Raspberry Pi by default): no limit, so no OOM kill
        // can happen. What cronbox promises then is a refusal under
        // require_limits, which is what this host can show.
        eprintln!(
            "this engine cannot enforce memory limits ({facts}); checking the refusal under require_limits instead"
        );
        let mut ctx = env.context().await;
        ctx.require_limits = true;
        let report = common::run_once_in(&env, &ctx).await;
        assert_eq!(report.status, Some(RunStatus::Failed));
        let error = env.sql("SELECT outcome || ': ' || error FROM attempts");
        assert!(
            error.starts_with("engine-error: the Docker host cannot enforce memory for job hungry")
                && error.contains("require_limits = true"),
            "{error}"
        );
        assert!(env.containers_gone().await, "no container was created");
        return;
    }
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Failed), "{facts}");
    assert_eq!(
        env.sql("SELECT outcome, oom_killed FROM attempts"),
        "oom|1\n",
        "{facts}"
    );
}

/// What the engine and the kernel say about memory limits here, for a failure message.
async fn memory_facts() -> String {
    let swap = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("SwapTotal"))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let info = match bollard::Docker::connect_with_local_defaults() {
        Ok(docker) => match docker.info().await {
            Ok(i) => format!(
                "engine /info: MemoryLimit {:?}, SwapLimit {:?}, cgroup {:?} {:?}, kernel {:?}, warnings {:?}",
                i.memory_limit,
                i.swap_limit,
                i.cgroup_version,
                i.cgroup_driver,
                i.kernel_version,
                i.warnings
            ),
            Err(e) => format!("engine /info failed: {e}"),
        },
        Err(e) => format!("no engine: {e}"),
    };
    format!("{info}; host {swap}")
}

#[tokio::test]
async fn a_read_only_root_refuses_writes_but_tmp_is_writable() {
    let env = TestEnv::new(
        r#"
[jobs.ro]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "touch /tmp/ok && echo tmp-ok; touch /written 2>/dev/null && echo root-written || echo root-refused"]
read_only = true
"#,
    );
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Succeeded));
    assert_eq!(
        env.sql("SELECT CAST(data AS TEXT) FROM output WHERE stream = 'stdout'"),
        "tmp-ok\nroot-refused\n\n"
    );
}

#[tokio::test]
async fn network_none_has_only_loopback() {
    let env = TestEnv::new(
        r#"
[jobs.offline]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "ls /sys/class/net"]
network = "none"
"#,
    );
    common::run_once(&env).await;
    assert_eq!(
        env.sql("SELECT CAST(data AS TEXT) FROM output WHERE stream = 'stdout'"),
        "lo\n\n"
    );
}

#[tokio::test]
async fn env_file_and_secret_values_reach_the_container_but_not_the_database() {
    let env = TestEnv::new("");
    let dir = env.dir.path();
    std::fs::write(
        dir.join("job.env"),
        "# credentials\nAPI_TOKEN=tok-7f3a9c-secret\nexport MODE='quiet'\n",
    )
    .expect("env file");
    std::fs::write(dir.join("db-password"), "pw-91e2-hidden").expect("secret");
    let jobs = format!(
        r#"
[jobs.secretive]
schedule = "@daily"
image = "{image}"
command = ["sh", "-c", "echo token=${{#API_TOKEN}} mode=$MODE; echo password=$(wc -c < /run/secrets/db_password)"]
env_file = "{env_file}"
secrets = {{ db_password = "{secret}" }}
"#,
        image = common::IMAGE,
        env_file = dir.join("job.env").display(),
        secret = dir.join("db-password").display(),
    );
    let text = std::fs::read_to_string(&env.config_path).expect("config") + &jobs;
    std::fs::write(&env.config_path, text).expect("config");

    let run = std::process::Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args([
            "run",
            "secretive",
            "--config",
            env.config_path.to_str().expect("utf-8"),
        ])
        .env("CRONBOX_LOG", "debug")
        .output()
        .expect("cronbox run");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    // The container saw the values (their lengths prove it without printing them).
    assert_eq!(stdout, "token=17 mode=quiet\npassword=14\n");
    for secret in ["tok-7f3a9c-secret", "pw-91e2-hidden"] {
        assert!(!stderr.contains(secret), "{secret} in cronbox's logs");
        let db = std::fs::read(&env.db_path).expect("db");
        let wal = std::fs::read(env.db_path.with_extension("db-wal")).unwrap_or_default();
        for bytes in [db, wal] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in the database"
            );
        }
    }
}

#[tokio::test]
async fn output_beyond_max_output_keeps_head_and_tail_and_counts_the_rest() {
    let env = TestEnv::new(
        r#"
[jobs.chatty]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "echo FIRST-LINE; yes 0123456789abcdef | head -c 3000000; echo; echo LAST-LINE"]
max_output = "64KiB"
"#,
    );
    let report = common::run_once(&env).await;
    assert_eq!(report.status, Some(RunStatus::Succeeded));
    let kept = env.sql("SELECT sum(length(data)) FROM output WHERE stream = 'stdout'");
    let dropped = env.sql("SELECT stdout_dropped FROM attempts");
    let total = "FIRST-LINE\n".len() + 3_000_000 + "\nLAST-LINE\n".len();
    let dropped: usize = dropped.trim().parse().expect("dropped");
    assert_eq!(
        dropped,
        total - 65536,
        "everything beyond 64 KiB is counted as dropped"
    );
    let kept: usize = kept.trim().parse().expect("kept");
    let stdout = env.sql(
        "SELECT CAST(group_concat(data, '') AS TEXT) FROM (SELECT data FROM output WHERE stream = 'stdout' ORDER BY seq)",
    );
    assert!(
        stdout.starts_with("FIRST-LINE\n0123456789abcdef\n"),
        "head kept"
    );
    assert!(stdout.ends_with("\nLAST-LINE\n\n"), "tail kept");
    assert!(
        stdout.contains(&format!("[cronbox: {dropped} bytes of stdout dropped here")),
        "marker at the gap"
    );
    assert!(
        kept < 65536 + 200,
        "at most max_output plus the marker is stored: {kept}"
    );
}

#[tokio::test]
async fn a_flood_of_output_does_not_grow_the_daemons_memory() {
    let env = TestEnv::new(
        r#"
[jobs.flood]
schedule = "@daily"
image = "IMAGE"
command = ["sh", "-c", "yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 200000000"]
"#,
    );
    common::engine().await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cronbox"))
        .args([
            "run",
            "flood",
            "--config",
            env.config_path.to_str().expect("utf-8"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cronbox run");
    // Sample the resident memory of cronbox while 200 MB stream through it.
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let mut samples = 0;
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("try_wait") {
            break exit;
        }
        let rss_kib = std::fs::read_to_string(&status).ok().and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
        if let Some(kib) = rss_kib {
            peak_kib = peak_kib.max(kib);
            samples += 1;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(exit.code(), Some(0));
    assert!(samples > 10, "only {samples} samples");
    assert!(
        peak_kib < 64 * 1024,
        "cronbox's resident memory peaked at {peak_kib} KiB"
    );
    let dropped: u64 = env
        .sql("SELECT stdout_dropped FROM attempts")
        .trim()
        .parse()
        .expect("dropped");
    assert_eq!(
        dropped,
        200_000_000 - 1024 * 1024,
        "all but the default 1 MiB dropped"
    );
}

#[tokio::test]
async fn isolation_keys_reach_the_container() {
    let env = TestEnv::new(
        r#"
[defaults]
labels = { team = "ops" }
cap_drop = ["ALL"]

[jobs.boxed]
schedule = "@daily"
image = "IMAGE"
entrypoint = ["sh", "-c"]
command = ["echo uid=$(id -u):$(id -g) pwd=$(pwd) host=$(hostname); grep -c ' /scratch tmpfs ' /proc/mounts; sleep 30"]
user = "1234:5678"
workdir = "/tmp"
hostname = "boxed-host"
tmpfs = ["/scratch:size=8m"]
cpus = 0.5
pids_limit = 64
memory = "64MiB"
cap_add = ["NET_BIND_SERVICE"]
labels = { purpose = "test" }
"#,
    );
    let config = env.config();
    let ctx = env.context().await;
    let stops = cronbox::daemon::Stops::default();
    let run = {
        let stops = stops.clone();
        tokio::spawn(async move {
            let now = cronbox::clock::Clock::now(&cronbox::clock::SystemClock);
            cronbox::daemon::supervisor::execute(
                &ctx,
                &config.jobs[0],
                cronbox::store::Trigger::Manual,
                now,
                &stops,
            )
            .await
        })
    };
    common::wait_for_sql(
        &env,
        "SELECT CAST(group_concat(data, '') AS TEXT) FROM output WHERE stream = 'stdout'",
        "uid=1234:5678 pwd=/tmp host=boxed-host\n1\n\n",
    )
    .await;
    let containers = env.containers().await;
    assert_eq!(containers.len(), 1);
    let inspect = std::process::Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.Memory}} {{.HostConfig.CapAdd}} {{.HostConfig.CapDrop}} {{index .Config.Labels \"team\"}} {{index .Config.Labels \"purpose\"}} {{.Config.StopSignal}}",
            &containers[0].id,
        ])
        .output()
        .expect("docker inspect");
    assert_eq!(
        String::from_utf8_lossy(&inspect.stdout),
        "500000000 64 67108864 [NET_BIND_SERVICE] [ALL] ops test SIGTERM\n"
    );
    stops.shutdown.cancel();
    run.await.expect("join").expect("store").expect("run");
    assert!(env.containers_gone().await);
}
