//! The pod of each run and its one container: image and pull policy,
//! entrypoint and command, working directory, environment (values from `env`,
//! `env_file` by reference), resources, the security context, host network
//! and name, and the mounts (host volumes, tmpfs, secrets).

use super::job::{env_secret, files_secret, labels, seconds};
use super::{Notes, names};
use crate::config::{Job, PullPolicy};
use crate::export::yaml::Node;

/// The pod template: labels, then the pod, which pulls its image with the
/// Secret `pull_secret` when there is one.
pub(super) fn template(
    job: &Job,
    name: &str,
    pull_secret: Option<&str>,
    notes: &mut Notes,
) -> Node {
    let mut metadata_labels = labels(job, name);
    for (key, value) in &job.labels {
        let taken = metadata_labels.iter().any(|(k, _)| k == key);
        if names::is_label_key(key) && names::is_label_value(value) && !taken {
            metadata_labels.push((key.clone(), Node::str(value)));
        } else {
            notes.warn(
                "labels",
                format!(
                    "{key:?} is not a valid Kubernetes label (or is one the export sets); it is left out"
                ),
            );
        }
    }
    Node::map([
        (
            "metadata",
            Node::map([("labels", Node::Map(metadata_labels))]),
        ),
        ("spec", pod_spec(job, name, pull_secret, notes)),
    ])
}

fn pod_spec(job: &Job, name: &str, pull_secret: Option<&str>, notes: &mut Notes) -> Node {
    // Each attempt is a new pod, so `timeout` bounds one attempt.
    let mut spec = vec![("restartPolicy", Node::str("Never"))];
    if let Some(timeout) = job.timeout {
        spec.push((
            "activeDeadlineSeconds",
            Node::Int(seconds(timeout, "timeout", notes)),
        ));
    }
    spec.push((
        "terminationGracePeriodSeconds",
        Node::Int(seconds(job.stop_grace, "stop_grace", notes)),
    ));
    if job.network.as_deref() == Some("host") {
        spec.push(("hostNetwork", Node::Bool(true)));
    }
    if let Some(hostname) = &job.hostname {
        if names::is_dns_label(hostname, 63) {
            spec.push(("hostname", Node::str(hostname)));
        } else {
            notes.warn(
                "hostname",
                format!(
                    "{hostname:?} is not a DNS label (a pod's hostname has no dots); the pod keeps its own name"
                ),
            );
        }
    }
    let mounts = Mounts::of(job, name);
    spec.push((
        "containers",
        Node::List(vec![container(job, name, &mounts, notes)]),
    ));
    if let Some(secret) = pull_secret {
        let reference = Node::map([("name", Node::str(secret))]);
        spec.push(("imagePullSecrets", Node::List(vec![reference])));
    }
    if !mounts.volumes.is_empty() {
        spec.push(("volumes", Node::List(mounts.volumes)));
    }
    Node::map(spec)
}

fn container(job: &Job, name: &str, mounts: &Mounts, notes: &mut Notes) -> Node {
    let mut c = vec![
        ("name", Node::str(name)),
        ("image", Node::str(&job.image)),
        ("imagePullPolicy", Node::str(pull_policy(job.pull))),
    ];
    if let Some(entrypoint) = &job.entrypoint {
        c.push(("command", Node::strings(entrypoint)));
    }
    if let Some(command) = &job.command {
        c.push(("args", Node::strings(command)));
    }
    if let Some(workdir) = &job.workdir {
        c.push(("workingDir", Node::str(workdir)));
    }
    let mut env: Vec<Node> = job
        .env
        .iter()
        .map(|(k, v)| Node::map([("name", Node::str(k)), ("value", Node::str(v))]))
        .collect();
    if job.completions > 1 {
        env.extend(index_env(job));
    }
    if !env.is_empty() {
        c.push(("env", Node::List(env)));
    }
    if job.env_file.is_some() {
        let secret = Node::map([("name", Node::str(env_secret(name)))]);
        c.push((
            "envFrom",
            Node::List(vec![Node::map([("secretRef", secret)])]),
        ));
    }
    if let Some(resources) = resources(job) {
        c.push(("resources", resources));
    }
    c.push(("securityContext", security_context(job, notes)));
    if !mounts.mounts.is_empty() {
        c.push(("volumeMounts", Node::List(mounts.mounts.clone())));
    }
    Node::map(c)
}

/// What an indexed job's container sees under cronbox, `CRONBOX_INDEX` (from
/// the pod's completion-index annotation, which Kubernetes also gives as
/// `JOB_COMPLETION_INDEX`) and `CRONBOX_COMPLETIONS`.
fn index_env(job: &Job) -> [Node; 2] {
    let index = Node::map([(
        "fieldRef",
        Node::map([(
            "fieldPath",
            Node::str("metadata.annotations['batch.kubernetes.io/job-completion-index']"),
        )]),
    )]);
    [
        Node::map([
            ("name", Node::str(crate::config::INDEX_VAR)),
            ("valueFrom", index),
        ]),
        Node::map([
            ("name", Node::str(crate::config::COMPLETIONS_VAR)),
            ("value", Node::str(job.completions.to_string())),
        ]),
    ]
}

/// `pull` as `imagePullPolicy`.
pub(super) fn pull_policy(pull: PullPolicy) -> &'static str {
    match pull {
        PullPolicy::Missing => "IfNotPresent",
        PullPolicy::Always => "Always",
        PullPolicy::Never => "Never",
    }
}

/// `memory` and `cpus` as equal limits and requests (the pod gets what
/// cronbox's container was capped at); `None` without either.
fn resources(job: &Job) -> Option<Node> {
    let mut amounts = Vec::new();
    if let Some(cpus) = job.cpus {
        amounts.push(("cpu", Node::str(cpu_quantity(cpus))));
    }
    if let Some(memory) = job.memory {
        amounts.push(("memory", Node::str(memory_quantity(memory))));
    }
    (!amounts.is_empty()).then(|| {
        Node::map([
            ("limits", Node::map(amounts.clone())),
            ("requests", Node::map(amounts)),
        ])
    })
}

/// CPUs as a Kubernetes quantity: `2`, or millicores such as `500m`.
pub(super) fn cpu_quantity(cpus: f64) -> String {
    // cpus is at most 1024 with a granularity of 0.01: the cast is exact.
    let millis = (cpus * 1000.0).round() as u64;
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

const MIB: u64 = 1024 * 1024;

/// Bytes as a Kubernetes quantity: `1Gi`, `256Mi`, `64Ki`, or bytes.
pub(super) fn memory_quantity(bytes: u64) -> String {
    for (unit, size) in [("Gi", 1024 * MIB), ("Mi", MIB), ("Ki", 1024)] {
        if bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

/// read_only, user, capabilities, privileged, and cronbox's no-new-privileges
/// (which Kubernetes cannot combine with privileged).
fn security_context(job: &Job, notes: &mut Notes) -> Node {
    let mut sc = Vec::new();
    if job.privileged {
        sc.push(("privileged", Node::Bool(true)));
        notes.warn(
            "privileged",
            "Kubernetes cannot combine privileged with allowPrivilegeEscalation: false, so the pod loses cronbox's no-new-privileges",
        );
    } else {
        sc.push(("allowPrivilegeEscalation", Node::Bool(false)));
    }
    if job.read_only {
        sc.push(("readOnlyRootFilesystem", Node::Bool(true)));
    }
    if let Some(user) = &job.user {
        let (uid, gid) = user
            .split_once(':')
            .map_or((user.as_str(), None), |(u, g)| (u, Some(g)));
        match uid.parse::<i64>() {
            Ok(uid) => sc.push(("runAsUser", Node::Int(uid))),
            Err(_) => notes.warn(
                "user",
                format!("Kubernetes runs as numeric ids only; the user {uid:?} is left out (write its uid)"),
            ),
        }
        match gid.map(str::parse::<i64>) {
            Some(Ok(gid)) => sc.push(("runAsGroup", Node::Int(gid))),
            Some(Err(_)) => notes.warn(
                "user",
                "Kubernetes runs as numeric ids only; the group is left out (write its gid)",
            ),
            None => {}
        }
    }
    if !job.cap_add.is_empty() || !job.cap_drop.is_empty() {
        let mut caps = Vec::new();
        if !job.cap_add.is_empty() {
            caps.push(("add", Node::strings(&job.cap_add)));
        }
        if !job.cap_drop.is_empty() {
            caps.push(("drop", Node::strings(&job.cap_drop)));
        }
        sc.push(("capabilities", Node::map(caps)));
    }
    Node::map(sc)
}

/// The pod's volumes and the container's mounts of them.
struct Mounts {
    volumes: Vec<Node>,
    mounts: Vec<Node>,
}

impl Mounts {
    fn of(job: &Job, name: &str) -> Mounts {
        let mut m = Mounts {
            volumes: Vec::new(),
            mounts: Vec::new(),
        };
        for (i, volume) in job.volumes.iter().enumerate() {
            let volume_name = format!("host-{i}");
            let host = Node::map([("path", Node::str(volume.host.display().to_string()))]);
            m.volumes.push(Node::map([
                ("name", Node::str(&volume_name)),
                ("hostPath", host),
            ]));
            let target = volume.container.display().to_string();
            m.mount(&volume_name, &target, None, volume.read_only);
        }
        let mut tmpfs: Vec<(String, Option<String>)> = job
            .tmpfs
            .iter()
            .map(|entry| match entry.split_once(':') {
                Some((path, options)) => (path.to_owned(), tmpfs_size(options)),
                None => (entry.clone(), None),
            })
            .collect();
        // cronbox gives a read-only root a writable /tmp.
        if job.read_only && !tmpfs.iter().any(|(path, _)| path == "/tmp") {
            tmpfs.push(("/tmp".to_owned(), None));
        }
        for (i, (path, size)) in tmpfs.iter().enumerate() {
            let volume_name = format!("tmpfs-{i}");
            let mut dir = vec![("medium", Node::str("Memory"))];
            if let Some(size) = size {
                dir.push(("sizeLimit", Node::str(size)));
            }
            m.volumes.push(Node::map([
                ("name", Node::str(&volume_name)),
                ("emptyDir", Node::map(dir)),
            ]));
            m.mount(&volume_name, path, None, false);
        }
        if !job.secrets.is_empty() {
            let secret = Node::map([("secretName", Node::str(files_secret(name)))]);
            m.volumes.push(Node::map([
                ("name", Node::str("secrets")),
                ("secret", secret),
            ]));
            for secret in job.secrets.keys() {
                let target = Job::secret_target(secret).display().to_string();
                m.mount("secrets", &target, Some(secret), true);
            }
        }
        m
    }

    fn mount(&mut self, volume: &str, path: &str, sub_path: Option<&str>, read_only: bool) {
        let mut mount = vec![("name", Node::str(volume)), ("mountPath", Node::str(path))];
        if let Some(sub_path) = sub_path {
            mount.push(("subPath", Node::str(sub_path)));
        }
        if read_only {
            mount.push(("readOnly", Node::Bool(true)));
        }
        self.mounts.push(Node::map(mount));
    }
}

/// The `size=` of tmpfs options (Docker's units: bytes, or k, m, g) as a
/// Kubernetes quantity; `None` without one.
pub(super) fn tmpfs_size(options: &str) -> Option<String> {
    let size = options
        .split(',')
        .find_map(|option| option.strip_prefix("size="))?;
    let (number, unit) = size.split_at(
        size.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(size.len()),
    );
    let number: u64 = number.parse().ok()?;
    let suffix = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => "",
        "k" | "kb" => "Ki",
        "m" | "mb" => "Mi",
        "g" | "gb" => "Gi",
        _ => return None,
    };
    Some(format!("{number}{suffix}"))
}
