//! The database's seed (`database_seed`): a random value made once, by the
//! migration that created the table, from which with each job's name its
//! `random_delay` offset is derived (see `crate::config::Config::spread_ticks`).

use sqlx::Row;

use super::{Store, StoreError};

impl Store {
    /// The database's seed: 32 hexadecimal digits, the same for the life of the
    /// database. `None` when the database has none (a read-only open of a
    /// database not yet migrated to the version that makes it).
    pub async fn database_seed(&self) -> Result<Option<String>, StoreError> {
        let exists = sqlx::query(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'database_seed'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(self.err("reading the database's seed"))?
        .get::<i64, _>(0);
        if exists == 0 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT seed FROM database_seed WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("reading the database's seed"))?;
        Ok(row.map(|row| row.get::<String, _>(0)))
    }
}
