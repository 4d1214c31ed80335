//! Cycles of `after` across the jobs of a file: every job that, through its
//! parents, would start after itself gets a problem at its `after` value. Linear
//! in the jobs and their `after` entries (one pass of Tarjan's strongly connected
//! components, then one walk per component). Pure: no IO.

use std::collections::{HashMap, HashSet};

use super::Job;
use super::error::{Problem, quote};

/// Cycles longer than this are named by their first and last jobs, with the
/// number left out between them, so that each message stays one short line.
const NAMED_IN_FULL: usize = 12;

/// A problem at each job of every cycle of `after`, placed at its `after` value.
///
/// Each group of jobs that start after one another (a strongly connected
/// component) is described by one cycle: the one found depth first from its
/// first job in the file, following `after` entries in the order written. Its
/// jobs get "the jobs A after B after A form a cycle"; a job of the group off
/// that cycle is told which of its parents leads back to it.
pub(super) fn cycle_problems(jobs: &[Job]) -> Vec<Problem> {
    let graph = Graph::new(jobs);
    let mut problems = Vec::new();
    let components = graph.components();
    let mut group_of = vec![0; jobs.len()];
    for (id, group) in components.iter().enumerate() {
        for &job in group {
            group_of[job] = id;
        }
    }
    for (id, group) in components.into_iter().enumerate() {
        let Some(&root) = group.iter().min() else {
            continue;
        };
        if group.len() == 1 && !graph.parents[root].contains(&root) {
            continue;
        }
        let member = |job: usize| group_of[job] == id;
        let cycle = graph.cycle_through(root, member);
        let names: Vec<&str> = cycle
            .iter()
            .chain(std::iter::once(&root))
            .map(|&job| jobs[job].name.as_str())
            .collect();
        let named = chain(&names);
        let message = format!(
            "the jobs {named} form a cycle: none of them would ever start; remove one of these after entries"
        );
        for &job in &cycle {
            push_at(&mut problems, &jobs[job], message.clone());
        }
        let on_cycle: HashSet<usize> = cycle.into_iter().collect();
        let mut rest: Vec<usize> = group
            .into_iter()
            .filter(|j| !on_cycle.contains(j))
            .collect();
        rest.sort_unstable();
        for job in rest {
            let Some(&parent) = graph.parents[job].iter().find(|&&p| member(p)) else {
                continue;
            };
            let message = format!(
                "the job {} is in a cycle of after entries with the jobs {named}: it starts after {}, which through its parents starts after {} again; none of them would ever start: remove one of these after entries",
                quote(&jobs[job].name),
                quote(&jobs[parent].name),
                quote(&jobs[job].name),
            );
            push_at(&mut problems, &jobs[job], message);
        }
    }
    problems
}

/// A problem at `job`'s `after` value (or its `[jobs.NAME]` header).
fn push_at(problems: &mut Vec<Problem>, job: &Job, message: String) {
    let at = job.locations.get("after").or(job.locations.job());
    if let Some(at) = at {
        problems.push(Problem::at(at, Some(&job.name), message));
    }
}

/// `"a" after "b" after "a"`, with the middle of a long chain left out.
fn chain(names: &[&str]) -> String {
    let quoted = |names: &[&str]| {
        names
            .iter()
            .map(|name| quote(name))
            .collect::<Vec<_>>()
            .join(" after ")
    };
    if names.len() <= NAMED_IN_FULL {
        return quoted(names);
    }
    let (head, tail) = (NAMED_IN_FULL / 2, NAMED_IN_FULL / 2 - 1);
    let left_out = names.len() - head - tail;
    format!(
        "{} after … {left_out} more jobs … after {}",
        quoted(&names[..head]),
        quoted(&names[names.len() - tail..])
    )
}

/// The jobs by index (file order), each with the indexes of its parents.
struct Graph {
    parents: Vec<Vec<usize>>,
}

impl Graph {
    fn new(jobs: &[Job]) -> Graph {
        let index: HashMap<&str, usize> = jobs
            .iter()
            .enumerate()
            .map(|(i, job)| (job.name.as_str(), i))
            .collect();
        let parents = jobs
            .iter()
            .map(|job| {
                let names = job.after.iter().map(|after| after.job.as_str());
                names.filter_map(|name| index.get(name).copied()).collect()
            })
            .collect();
        Graph { parents }
    }

    /// The strongly connected components (Tarjan's algorithm, without recursion,
    /// so a chain of 10,000 jobs needs no deep stack).
    fn components(&self) -> Vec<Vec<usize>> {
        const UNSEEN: usize = usize::MAX;
        let n = self.parents.len();
        let (mut order, mut low) = (vec![UNSEEN; n], vec![0; n]);
        let mut on_stack = vec![false; n];
        let (mut stack, mut components, mut next) = (Vec::new(), Vec::new(), 0);
        for start in 0..n {
            if order[start] != UNSEEN {
                continue;
            }
            // (job, how many of its parents were looked at)
            let mut walk = vec![(start, 0)];
            order[start] = next;
            low[start] = next;
            next += 1;
            stack.push(start);
            on_stack[start] = true;
            while let Some(&mut (job, ref mut done)) = walk.last_mut() {
                if let Some(&parent) = self.parents[job].get(*done) {
                    *done += 1;
                    if order[parent] == UNSEEN {
                        order[parent] = next;
                        low[parent] = next;
                        next += 1;
                        stack.push(parent);
                        on_stack[parent] = true;
                        walk.push((parent, 0));
                    } else if on_stack[parent] {
                        low[job] = low[job].min(order[parent]);
                    }
                    continue;
                }
                walk.pop();
                if let Some(&(child, _)) = walk.last() {
                    low[child] = low[child].min(low[job]);
                }
                if low[job] == order[job] {
                    let mut component = Vec::new();
                    while let Some(member) = stack.pop() {
                        on_stack[member] = false;
                        component.push(member);
                        if member == job {
                            break;
                        }
                    }
                    components.push(component);
                }
            }
        }
        components.sort_by_key(|component| component.iter().min().copied());
        components
    }

    /// A path `[root, parent, grandparent, ...]` whose last job starts after
    /// `root`, found depth first among the `member` jobs, parents in the order
    /// written. `root` alone when none is found (a job after itself).
    fn cycle_through(&self, root: usize, member: impl Fn(usize) -> bool) -> Vec<usize> {
        let mut seen = HashSet::from([root]);
        let mut walk = vec![(root, 0)];
        while let Some(&mut (job, ref mut done)) = walk.last_mut() {
            let Some(&parent) = self.parents[job].get(*done) else {
                walk.pop();
                continue;
            };
            *done += 1;
            if parent == root {
                break;
            }
            if member(parent) && seen.insert(parent) {
                walk.push((parent, 0));
            }
        }
        if walk.is_empty() {
            return vec![root];
        }
        walk.into_iter().map(|(job, _)| job).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check_problems, parse_err, parse_ok};

    /// `n` jobs, job `i` after job `i - 1`; job 0 has `first` (a schedule, or an
    /// `after` that closes the cycle).
    fn chain_of(n: usize, first: &str) -> String {
        let mut text = format!("[jobs.j0]\n{first}\nimage = \"x\"\n");
        for i in 1..n {
            let parent = i - 1;
            text.push_str(&format!(
                "[jobs.j{i}]\nafter = {{ job = \"j{parent}\" }}\nimage = \"x\"\n"
            ));
        }
        text
    }

    #[test]
    fn a_chain_of_ten_thousand_jobs_is_accepted() {
        let config = parse_ok(&chain_of(10_000, "schedule = \"@daily\""));
        assert_eq!(config.jobs.len(), 10_000);
        let last = config.job("j9999").expect("last job");
        assert_eq!(last.started_by().as_deref(), Some("after j9998 succeeds"));
    }

    #[test]
    fn a_cycle_of_ten_thousand_jobs_is_reported_at_each_with_a_short_message() {
        let err = parse_err(&chain_of(10_000, "after = { job = \"j9999\" }"));
        assert_eq!(err.problems.len(), 10_000);
        let expected = "the jobs \"j0\" after \"j9999\" after \"j9998\" after \"j9997\" after \"j9996\" after \"j9995\" \
             after … 9990 more jobs … after \"j4\" after \"j3\" after \"j2\" after \"j1\" after \"j0\" form a cycle";
        for (i, problem) in err.problems.iter().enumerate() {
            let name = format!("j{i}");
            assert_eq!(problem.job.as_deref(), Some(name.as_str()));
            assert_eq!(
                problem.location.map(|at| (at.line, at.column)),
                Some((3 * i + 2, 9))
            );
            assert!(problem.message.starts_with(expected), "{}", problem.message);
        }
    }

    #[test]
    fn a_job_in_a_cycle_off_the_one_named_is_told_which_parent_leads_back() {
        check_problems(
            "a after b after a, and c after a after c",
            "[jobs.a]\nafter = [{ job = \"b\" }, { job = \"c\" }]\nimage = \"x\"\n\
             [jobs.b]\nafter = { job = \"a\" }\nimage = \"x\"\n\
             [jobs.c]\nafter = { job = \"a\" }\nimage = \"x\"\n",
            &[
                (
                    2,
                    9,
                    Some("a"),
                    &["the jobs \"a\" after \"b\" after \"a\" form a cycle"],
                ),
                (
                    5,
                    9,
                    Some("b"),
                    &["the jobs \"a\" after \"b\" after \"a\" form a cycle"],
                ),
                (
                    8,
                    9,
                    Some("c"),
                    &[
                        "the job \"c\" is in a cycle of after entries with the jobs \"a\" after \"b\" after \"a\"",
                        "it starts after \"a\", which through its parents starts after \"c\" again",
                        "remove one of these after entries",
                    ],
                ),
            ],
        );
    }

    #[test]
    fn separate_cycles_are_each_reported_and_jobs_hanging_off_them_are_not() {
        check_problems(
            "a after b after a; c after d after c; e after a",
            "[jobs.a]\nafter = { job = \"b\" }\nimage = \"x\"\n\
             [jobs.b]\nafter = { job = \"a\" }\nimage = \"x\"\n\
             [jobs.c]\nafter = { job = \"d\" }\nimage = \"x\"\n\
             [jobs.d]\nafter = { job = \"c\" }\nimage = \"x\"\n\
             [jobs.e]\nafter = { job = \"a\" }\nimage = \"x\"\n",
            &[
                (2, 9, Some("a"), &["\"a\" after \"b\" after \"a\""]),
                (5, 9, Some("b"), &["\"a\" after \"b\" after \"a\""]),
                (8, 9, Some("c"), &["\"c\" after \"d\" after \"c\""]),
                (11, 9, Some("d"), &["\"c\" after \"d\" after \"c\""]),
            ],
        );
    }
}
