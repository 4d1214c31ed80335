//! An attempt's output on its way to the database: each stream kept within the
//! job's `max_output` (the head as it arrives, the tail at the end, what falls
//! between counted and dropped), written in chunks while the container runs,
//! and copied live to this process's own output for `cronbox run`.

use bytes::Bytes;
use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;
use tokio::sync::mpsc;

use super::supervisor::Context;
use crate::config::Job;
use crate::engine::Event;
use crate::store::Stream;

/// Output is written to the database in chunks of at most this size...
const CHUNK_BYTES: usize = 64 * 1024;
/// ...or at least this often while the container runs.
const FLUSH_EVERY: Duration = Duration::from_millis(250);

/// One stream's output as it is kept: the first half of `max_output` goes to the
/// database as it arrives, the last half is held in a ring and written at the
/// end, and what falls between is counted and dropped as it arrives.
struct Capped {
    stream: Stream,
    head_left: usize,
    tail: VecDeque<u8>,
    tail_max: usize,
    pending: Vec<u8>,
    seq: i64,
    dropped: u64,
}

impl Capped {
    fn new(stream: Stream, max_output: u64) -> Capped {
        let max = usize::try_from(max_output).unwrap_or(usize::MAX);
        let head = max / 2;
        Capped {
            stream,
            head_left: head,
            tail: VecDeque::new(),
            tail_max: max - head,
            pending: Vec::new(),
            seq: 0,
            dropped: 0,
        }
    }

    fn push(&mut self, mut data: &[u8]) {
        let head = data.len().min(self.head_left);
        self.pending.extend_from_slice(&data[..head]);
        self.head_left -= head;
        data = &data[head..];
        if data.is_empty() {
            return;
        }
        if data.len() >= self.tail_max {
            self.dropped += (self.tail.len() + data.len() - self.tail_max) as u64;
            self.tail.clear();
            self.tail.extend(&data[data.len() - self.tail_max..]);
            return;
        }
        let overflow = (self.tail.len() + data.len()).saturating_sub(self.tail_max);
        self.tail.drain(..overflow);
        self.dropped += overflow as u64;
        self.tail.extend(data);
    }

    async fn flush(&mut self, ctx: &Context, job: &Job, attempt_id: i64) {
        if self.pending.is_empty() {
            return;
        }
        if let Err(e) = ctx
            .store
            .append_output(
                attempt_id,
                self.stream,
                self.seq,
                ctx.clock.now(),
                &self.pending,
            )
            .await
        {
            tracing::error!(job = %job.name, attempt = attempt_id, error = %e, "could not store output");
        }
        self.seq += 1;
        self.pending.clear();
    }

    async fn finish(&mut self, ctx: &Context, job: &Job, attempt_id: i64) {
        self.flush(ctx, job, attempt_id).await;
        if self.dropped > 0 {
            let marker = format!(
                "\n[cronbox: {} bytes of {} dropped here: max_output = {} keeps the head and the tail]\n",
                self.dropped,
                self.stream.as_str(),
                job.max_output
            );
            self.pending.extend_from_slice(marker.as_bytes());
            self.flush(ctx, job, attempt_id).await;
            if let Err(e) = ctx
                .store
                .set_dropped(attempt_id, self.stream, self.dropped)
                .await
            {
                tracing::error!(job = %job.name, error = %e, "could not record dropped output");
            }
        }
        let tail: Vec<u8> = self.tail.drain(..).collect();
        for chunk in tail.chunks(CHUNK_BYTES) {
            self.pending.extend_from_slice(chunk);
            self.flush(ctx, job, attempt_id).await;
        }
    }
}

/// Keeps each stream within `max_output` and writes it to the database in chunks
/// while the container runs. A database error is logged and the output dropped;
/// the container is never held up by it.
pub(super) async fn record_output(
    ctx: &Context,
    job: &Job,
    attempt_id: i64,
    mut rx: mpsc::Receiver<Event>,
) {
    let mut streams = [
        Capped::new(Stream::Stdout, job.max_output),
        Capped::new(Stream::Stderr, job.max_output),
    ];
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut echo_live = ctx.echo;
    loop {
        let event = tokio::select! {
            event = rx.recv() => event,
            _ = flush.tick() => {
                for capped in &mut streams {
                    capped.flush(ctx, job, attempt_id).await;
                }
                continue;
            }
        };
        match event {
            Some(Event::Output(stream, data)) => {
                if echo_live {
                    echo(stream, &data);
                }
                let capped = &mut streams[usize::from(stream == Stream::Stderr)];
                capped.push(&data);
                if capped.pending.len() >= CHUNK_BYTES {
                    capped.flush(ctx, job, attempt_id).await;
                }
            }
            Some(Event::Restart) => {
                // Already shown live: do not echo it twice.
                echo_live = false;
                if let Err(e) = ctx.store.clear_output(attempt_id).await {
                    tracing::error!(job = %job.name, error = %e, "could not clear output before storing it again");
                }
                streams = [
                    Capped::new(Stream::Stdout, job.max_output),
                    Capped::new(Stream::Stderr, job.max_output),
                ];
            }
            None => break,
        }
    }
    for capped in &mut streams {
        capped.finish(ctx, job, attempt_id).await;
    }
}

fn echo(stream: Stream, data: &Bytes) {
    let result = match stream {
        Stream::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(data).and_then(|()| out.flush())
        }
        Stream::Stderr => std::io::stderr().lock().write_all(data),
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "could not echo output");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_output_keeps_head_and_tail_and_counts_the_rest() {
        // (max_output, pushes, head kept, tail kept, dropped)
        type Case<'a> = (u64, &'a [&'a [u8]], &'a [u8], &'a [u8], u64);
        let cases: [Case; 5] = [
            (8, &[b"abc"], b"abc", b"", 0),
            (8, &[b"abcdefgh"], b"abcd", b"efgh", 0),
            (8, &[b"abcdefghij"], b"abcd", b"ghij", 2),
            (
                8,
                &[b"ab", b"cd", b"ef", b"gh", b"ij", b"kl"],
                b"abcd",
                b"ijkl",
                4,
            ),
            (8, &[b"abcd", b"0123456789", b"xy"], b"abcd", b"89xy", 8),
        ];
        for (max, pushes, head, tail, dropped) in cases {
            let mut capped = Capped::new(Stream::Stdout, max);
            for push in pushes {
                capped.push(push);
            }
            assert_eq!(capped.pending, head, "{pushes:?}");
            assert_eq!(
                capped.tail.iter().copied().collect::<Vec<u8>>(),
                tail,
                "{pushes:?}"
            );
            assert_eq!(capped.dropped, dropped, "{pushes:?}");
        }
    }
}
