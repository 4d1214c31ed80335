//! The `random_delay` offsets for the commands that show fire times (`check`,
//! `next`): they come from the database's seed, read without writing. A database
//! that does not exist yet (or has no seed yet) leaves the ticks unshifted, and
//! the command says so.

use crate::config::Config;
use crate::store::Store;

/// Set the jobs' `random_delay` offsets of `config` from its database's seed.
/// Returns a note for stderr when some job has `random_delay` and the seed
/// cannot be read (the times shown are then the ticks themselves).
pub async fn spread_from_database(config: &mut Config) -> Option<String> {
    let spread: Vec<&str> = config
        .jobs
        .iter()
        .filter(|job| job.random_delay.is_some())
        .map(|job| job.name.as_str())
        .collect();
    if spread.is_empty() {
        return None;
    }
    let database = config.daemon.database.clone();
    let why = if database.exists() {
        match Store::open_read_only(&database).await {
            Ok(store) => {
                let seed = store.database_seed().await;
                store.close().await;
                match seed {
                    Ok(Some(seed)) => {
                        config.spread_ticks(&seed);
                        return None;
                    }
                    Ok(None) => {
                        "it has no seed yet (the daemon makes it at its next start)".to_owned()
                    }
                    Err(e) => format!("it cannot be read ({e})"),
                }
            }
            Err(e) => format!("it cannot be opened ({e})"),
        }
    } else {
        "it does not exist yet (the daemon creates it at its first start)".to_owned()
    };
    Some(format!(
        "note: the random_delay offsets of {} come from the database {}, and {why}: the times shown are the ticks without their offsets",
        spread.join(", "),
        database.display()
    ))
}
