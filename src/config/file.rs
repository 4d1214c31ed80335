//! Reading a file a person names in a setting: the schedule file (`--config`) and a
//! job's `env_file`. Only a regular file is read, and at most a given number of bytes,
//! so that a named pipe, a device (`/dev/zero`) or a huge file gives a clear error
//! instead of a hang or a process that runs out of memory.
//!
//! [`super::load`] reads the schedule through [`read`]; the supervisor (at each run) and
//! `check` read `env_file`s through [`read_to_string`] with [`super::MAX_ENV_FILE_SIZE`].

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use super::values::format_size;

/// Why a file was not read. Display is the "why" part of a message, such as
/// "it is a named pipe (FIFO), not a regular file"; the caller says which file.
/// Never contains any of the file's contents.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening or reading failed (the OS error: not found, permission denied, ...).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The path names something other than a regular file; `kind` says what, such as
    /// "a named pipe (FIFO)" or "a directory".
    #[error("it is {kind}, not a regular file")]
    NotRegular { kind: &'static str },
    /// The file holds more than `max` bytes.
    #[error("it is larger than {}, the most cronbox reads", format_size(*max))]
    TooLarge { max: u64 },
    /// [`read_to_string`] only: the bytes are not UTF-8 text.
    #[error("it is not UTF-8 text")]
    NotUtf8,
}

/// The bytes of the regular file at `path` (symbolic links followed), at most `max`.
///
/// The type is checked before opening, so that opening never blocks (a FIFO) nor
/// touches a device, and again on the opened file, against a swap in between; the
/// file is opened non-blocking, which changes nothing for a regular file. A file
/// that grows past `max` while it is read is refused too.
pub fn read(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    regular(&std::fs::metadata(path)?, max)?;
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let size = regular(&file.metadata()?, max)?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge { max });
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text.
pub fn read_to_string(path: &Path, max: u64) -> Result<String, ReadError> {
    String::from_utf8(read(path, max)?).map_err(|_| ReadError::NotUtf8)
}

/// The size of a regular file of at most `max` bytes, else why not.
fn regular(metadata: &Metadata, max: u64) -> Result<u64, ReadError> {
    let kind = metadata.file_type();
    let what = if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        Some("neither a file nor a directory")
    };
    match what {
        Some(kind) => Err(ReadError::NotRegular { kind }),
        None if metadata.len() > max => Err(ReadError::TooLarge { max }),
        None => Ok(metadata.len()),
    }
}
