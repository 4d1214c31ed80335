//! Containers made ready while a file settles (`on_file`, issue 12): the
//! daemon's side of [`crate::trigger::files::PrepareFile`].
//!
//! A file's run cannot have its container created before the file is known,
//! because the container's bind mount names the file; but the file is known
//! from its first sight, at least `settle` before it is taken. So, as a tick's
//! container is made ready ahead of the tick ([`super::PREPARE_AHEAD`]), the
//! watcher asks for the container of the file next in line while it settles,
//! and the run's first attempt only records its id and starts it. A container
//! nothing starts is removed by the watcher (the file went, the job was paused
//! or reloaded), or by the start-up repair after a crash (it carries the
//! database's label).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::attempt;
use super::supervisor::{Context, Preparation};
use crate::config::Job;

/// Makes files' containers ready on the daemon's engine, in the background.
pub(super) struct FileReady {
    ctx: Context,
    /// Keys the containers' names: this process's start (ms) then a count.
    next_key: AtomicU64,
}

impl FileReady {
    pub(super) fn new(ctx: Context) -> FileReady {
        // Starting from the process's start in ms (shifted up) keeps the names
        // of one daemon's containers apart from a previous daemon's.
        let since_epoch = ctx.clock.now().timestamp_millis().unsigned_abs();
        FileReady {
            ctx,
            next_key: AtomicU64::new(since_epoch << 20),
        }
    }
}

impl crate::trigger::files::PrepareFile for FileReady {
    fn prepare(&self, job: &Arc<Job>, path: &Path) -> Preparation {
        let job = crate::trigger::files::with_file(job, path);
        let params = crate::store::file_params(path);
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let ctx = self.ctx.clone();
        let made = self
            .ctx
            .tracker
            .spawn(async move { attempt::prepare_for_file(&ctx, &job, &params, key).await });
        Box::pin(async move { made.await.ok().flatten() })
    }

    fn discard(&self, preparation: Preparation) {
        let ctx = self.ctx.clone();
        self.ctx
            .tracker
            .spawn(async move { attempt::discard(&ctx, preparation).await });
    }
}
