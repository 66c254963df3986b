//! The local run store: a directory (default `.rollc/`) with one folder per run.
//!
//! ```text
//! .rollc/
//!   current                  the id of the latest run (what operator commands act on)
//!   runs/ID/run.json         RunMeta: strategy, fleet, clock
//!   runs/ID/journal.jsonl    the records, one JSON object per line, append-only
//!   runs/ID/lock             held (flock) by the executor driving the run; names it
//!   runs/ID/intents/N.json   operator requests waiting for the executor
//!   runs/ID/answers/N.json   what came of them
//! ```
//!
//! Every write that matters is complete before it is visible: metadata and intents are
//! written to a temporary file and renamed; journal batches are appended with one write and
//! flushed (and with `durable`, synced to disk) before the executor acts on them. A line
//! torn by a crash mid-write was never acted on; reading drops it and truncates the file.
//! The lock is an OS file lock, so a killed executor's lock is released with its process.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{Answer, IntentFile, JournalAppender, RunLockGuard, RunMeta, RunStore, StoreError};
use crate::runtime::event::Record;

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

/// A local run store rooted at a directory.
#[derive(Clone, Debug)]
pub struct LocalStore {
    root: PathBuf,
}

/// The lock on a run: held while this value lives (and released by the OS if the process
/// dies).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl LocalStore {
    /// The store at `root` (created when a run is first written).
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore { root: root.into() }
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn run_dir(&self, id: &str) -> PathBuf {
        self.root.join("runs").join(id)
    }

    /// Creates a run's folder and metadata and makes it the current run.
    pub fn create(&self, meta: &RunMeta) -> Result<(), StoreError> {
        let dir = self.run_dir(&meta.id);
        for sub in ["intents", "answers"] {
            let d = dir.join(sub);
            fs::create_dir_all(&d).map_err(io_err("create", &d))?;
        }
        let text = serde_json::to_string_pretty(meta).expect("metadata serialises");
        write_atomic(&dir.join("run.json"), text.as_bytes())?;
        File::create(dir.join("journal.jsonl")).map_err(io_err("create", &dir))?;
        write_atomic(&self.root.join("current"), meta.id.as_bytes())
    }

    /// The current run's id.
    pub fn current(&self) -> Result<String, StoreError> {
        let path = self.root.join("current");
        match fs::read_to_string(&path) {
            Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
            Ok(_) => Err(StoreError::NoRun {
                message: format!("no run in `{}`", self.root.display()),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::NoRun {
                message: format!("no run in `{}`", self.root.display()),
            }),
            Err(e) => Err(io_err("read", &path)(e)),
        }
    }

    /// A run's metadata.
    pub fn meta(&self, id: &str) -> Result<RunMeta, StoreError> {
        let path = self.run_dir(id).join("run.json");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NoRun {
                    message: format!("no run `{id}` in `{}`", self.root.display()),
                });
            }
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Takes the run's lock, or says who holds it.
    pub fn lock(&self, id: &str, holder: &str) -> Result<RunLock, StoreError> {
        let path = self.run_dir(id).join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err("open", &path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(StoreError::Locked {
                    run: id.to_string(),
                    holder: if text.trim().is_empty() {
                        "another process".into()
                    } else {
                        text.trim().to_string()
                    },
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err("lock", &path)(e)),
        }
        file.set_len(0).map_err(io_err("write", &path))?;
        file.write_all(format!("{holder} since {}\n", jiff::Timestamp::now()).as_bytes())
            .map_err(io_err("write", &path))?;
        Ok(RunLock { _file: file })
    }

    /// Who holds the run's lock, if anyone.
    pub fn holder(&self, id: &str) -> Result<Option<String>, StoreError> {
        let path = self.run_dir(id).join("lock");
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("open", &path)(e)),
        };
        // Holding a shared lock means nobody holds the exclusive one; release it at once.
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                Ok(None)
            }
            Err(fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                Ok(Some(text.trim().to_string()))
            }
            Err(fs::TryLockError::Error(e)) => Err(io_err("lock", &path)(e)),
        }
    }

    /// Reads a run's journal. A last line torn by a crash mid-write is dropped and cut from
    /// the file (it was never acted on); anything else unreadable is an error.
    pub fn journal(&self, id: &str) -> Result<Vec<Record>, StoreError> {
        let path = self.run_dir(id).join("journal.jsonl");
        let mut text = String::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(io_err("read", &path))?;
        let mut records = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let complete = line.ends_with('\n');
            match serde_json::from_str::<Record>(line.trim_end()) {
                Ok(r) if complete => records.push(r),
                _ if !complete => {
                    // A torn tail: cut it so the next append starts on a fresh line.
                    let file = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(io_err("open", &path))?;
                    file.set_len(offset as u64)
                        .map_err(io_err("truncate", &path))?;
                    break;
                }
                Ok(_) => unreachable!("complete lines are handled above"),
                Err(e) => {
                    return Err(StoreError::Corrupt {
                        path: path.display().to_string(),
                        message: format!("record {}: {e}", records.len() + 1),
                    });
                }
            }
            offset += line.len();
        }
        Ok(records)
    }

    /// Opens a run's journal for appending.
    pub fn appender(&self, id: &str, durable: bool) -> Result<Appender, StoreError> {
        let path = self.run_dir(id).join("journal.jsonl");
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        Ok(Appender {
            file,
            path,
            durable,
            buf: Vec::new(),
        })
    }

    /// Leaves an intent for the run's executor; returns its id.
    pub fn send(&self, run: &str, intent: &IntentFile) -> Result<(), StoreError> {
        let dir = self.run_dir(run).join("intents");
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        let text = serde_json::to_string(intent).expect("intents serialise");
        write_atomic(&dir.join(format!("{}.json", intent.id)), text.as_bytes())
    }

    /// The intents waiting, oldest first.
    pub fn intents(&self, run: &str) -> Result<Vec<IntentFile>, StoreError> {
        let dir = self.run_dir(run).join("intents");
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("read", &dir)(e)),
        };
        let mut names: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        let mut out = Vec::new();
        for path in names {
            let text = match fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("read", &path)(e)),
            };
            match serde_json::from_str::<IntentFile>(&text) {
                Ok(i) => out.push(i),
                Err(e) => {
                    // Not ours to act on; say so where the sender will look.
                    let id = path
                        .file_stem()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .to_string();
                    self.answer(
                        run,
                        &id,
                        &Answer {
                            accepted: false,
                            message: format!("unreadable request: {e}"),
                        },
                    )?;
                }
            }
        }
        Ok(out)
    }

    /// Records what came of an intent and removes it.
    pub fn answer(&self, run: &str, id: &str, answer: &Answer) -> Result<(), StoreError> {
        let dir = self.run_dir(run).join("answers");
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        let text = serde_json::to_string(answer).expect("answers serialise");
        write_atomic(&dir.join(format!("{id}.json")), text.as_bytes())?;
        let intent = self.run_dir(run).join("intents").join(format!("{id}.json"));
        match fs::remove_file(&intent) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove", &intent)(e)),
        }
    }

    /// The answer to an intent, once there is one.
    pub fn answer_of(&self, run: &str, id: &str) -> Result<Option<Answer>, StoreError> {
        let path = self.run_dir(run).join("answers").join(format!("{id}.json"));
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    path: path.display().to_string(),
                    message: e.to_string(),
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &path)(e)),
        }
    }

    /// Withdraws an intent nobody took (false when an executor took it first).
    pub fn withdraw(&self, run: &str, id: &str) -> Result<bool, StoreError> {
        let intent = self.run_dir(run).join("intents").join(format!("{id}.json"));
        match fs::remove_file(&intent) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("remove", &intent)(e)),
        }
    }
}

/// Appends journal records: one write per batch, flushed before returning.
#[derive(Debug)]
pub struct Appender {
    file: File,
    path: PathBuf,
    durable: bool,
    buf: Vec<u8>,
}

impl Appender {
    /// Appends `records` and flushes them to the OS (and with `durable`, to disk).
    pub fn append(&mut self, records: &[Record]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        for r in records {
            serde_json::to_writer(&mut self.buf, r).expect("records serialise");
            self.buf.push(b'\n');
        }
        self.file
            .seek(SeekFrom::End(0))
            .and_then(|_| self.file.write_all(&self.buf))
            .and_then(|()| self.file.flush())
            .map_err(io_err("append to", &self.path))?;
        if self.durable {
            self.file.sync_data().map_err(io_err("sync", &self.path))?;
        }
        Ok(())
    }
}

/// Writes `path` so that readers see the old content or the new, never a part.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes).map_err(io_err("write", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("rename", path))
}

impl RunLockGuard for RunLock {
    fn lost(&self) -> Option<String> {
        // An OS file lock is held until the process lets go of it.
        None
    }
}

impl JournalAppender for Appender {
    async fn append(&mut self, records: &[Record]) -> Result<(), StoreError> {
        Appender::append(self, records)
    }
}

/// The local store through the [`RunStore`] seam: the same operations, answered at once.
impl RunStore for LocalStore {
    type Lock = RunLock;
    type Appender = Appender;

    async fn create(&self, meta: &RunMeta) -> Result<(), StoreError> {
        LocalStore::create(self, meta)
    }

    async fn current(&self) -> Result<String, StoreError> {
        LocalStore::current(self)
    }

    async fn exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.run_dir(id).exists())
    }

    async fn meta(&self, id: &str) -> Result<RunMeta, StoreError> {
        LocalStore::meta(self, id)
    }

    async fn lock(&self, id: &str, holder: &str) -> Result<RunLock, StoreError> {
        LocalStore::lock(self, id, holder)
    }

    async fn holder(&self, id: &str) -> Result<Option<String>, StoreError> {
        LocalStore::holder(self, id)
    }

    async fn journal(&self, id: &str) -> Result<Vec<Record>, StoreError> {
        LocalStore::journal(self, id)
    }

    async fn appender(&self, id: &str, durable: bool) -> Result<Appender, StoreError> {
        LocalStore::appender(self, id, durable)
    }

    async fn send(&self, run: &str, intent: &IntentFile) -> Result<(), StoreError> {
        LocalStore::send(self, run, intent)
    }

    async fn intents(&self, run: &str) -> Result<Vec<IntentFile>, StoreError> {
        LocalStore::intents(self, run)
    }

    async fn answer(&self, run: &str, id: &str, answer: &Answer) -> Result<(), StoreError> {
        LocalStore::answer(self, run, id, answer)
    }

    async fn answer_of(&self, run: &str, id: &str) -> Result<Option<Answer>, StoreError> {
        LocalStore::answer_of(self, run, id)
    }

    async fn withdraw(&self, run: &str, id: &str) -> Result<bool, StoreError> {
        LocalStore::withdraw(self, run, id)
    }
}
