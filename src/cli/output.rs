//! Writing to stdout and stderr without ever panicking (`println!` and
//! `eprintln!` panic when the stream cannot be written: `>/dev/full`, a closed
//! pipe). Rust ignores SIGPIPE, so a reader that went away shows up here as
//! `EPIPE`.
//!
//! The rule, for every command: a reader of stdout that went away (`cronbox
//! history | head`) stops the command quietly with exit code 0, as ripgrep and
//! most Rust tools do; any other failure to write stdout, or to write data to
//! stderr (`cronbox logs`), is an error (exit code 1, said on stderr if stderr
//! works). Messages *about* the work (warnings, the final error) are written to
//! stderr on a best-effort basis: when stderr cannot take them there is nowhere
//! else to say so, and the exit code still tells.

use std::io::Write;

/// Output that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// stdout's reader went away (EPIPE): the command stops quietly and exits 0.
    #[error("standard output was closed by its reader")]
    Closed,
    /// stdout or stderr refused the write (a full disk, an I/O error, ...).
    #[error("cannot write to standard {stream}: {error}")]
    Failed {
        /// `output` or `error`.
        stream: &'static str,
        error: std::io::Error,
    },
}

/// The [`OutputError`] for a failed write to stdout.
pub fn stdout_error(error: std::io::Error) -> OutputError {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        OutputError::Closed
    } else {
        OutputError::Failed {
            stream: "output",
            error,
        }
    }
}

/// The [`OutputError`] for a failed write of data to stderr. A closed stderr is
/// a failure like any other: only stdout has readers that stop early by design.
pub fn stderr_error(error: std::io::Error) -> OutputError {
    OutputError::Failed {
        stream: "error",
        error,
    }
}

/// Write `bytes` to `stdout` (stdout or a stand-in for it) and flush it.
pub fn out(stdout: &mut impl Write, bytes: &[u8]) -> Result<(), OutputError> {
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(stdout_error)
}

/// Write `text` to the process's stdout (see [`out`]).
pub fn print_out(text: &str) -> Result<(), OutputError> {
    out(&mut std::io::stdout().lock(), text.as_bytes())
}

/// Write one line of a message (a warning, an error) to stderr. A stderr that
/// cannot take it is ignored: there is nowhere else to say so.
pub fn note(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_all(line.as_bytes())
        .and_then(|()| stderr.write_all(b"\n"))
        .and_then(|()| stderr.flush());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    /// A writer that fails every write with one kind of error.
    struct Failing(ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(Error::from(self.0))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(Error::from(self.0))
        }
    }

    #[test]
    fn a_closed_stdout_is_closed_and_any_other_failure_is_an_error() {
        assert!(matches!(
            out(&mut Failing(ErrorKind::BrokenPipe), b"x"),
            Err(OutputError::Closed)
        ));
        let full = out(&mut Failing(ErrorKind::StorageFull), b"x");
        assert!(
            matches!(
                full,
                Err(OutputError::Failed {
                    stream: "output",
                    ..
                })
            ),
            "{full:?}"
        );
        let mut fine = Vec::new();
        assert!(out(&mut fine, b"all good\n").is_ok());
        assert_eq!(fine, b"all good\n");
        // A closed stderr is not a reason to stop quietly.
        assert!(matches!(
            stderr_error(Error::from(ErrorKind::BrokenPipe)),
            OutputError::Failed {
                stream: "error",
                ..
            }
        ));
    }
}
