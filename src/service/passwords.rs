//! Password hashing with argon2id (PHC string format). Used for SCIM `password` attributes and
//! admin accounts; cleartext never leaves this module's callers.
//!
//! The server hashes and verifies only on a small pool of dedicated threads ([`HashPool`]):
//! one argon2 run holds about 19 MiB, so the pool's size bounds the memory a burst of sign-ins
//! or SCIM password writes can take, and keeping that work on a few threads keeps the allocator
//! from leaving a hash's worth of memory cached on each of Rocket's hundreds of blocking
//! threads. Work beyond what the queue holds is refused at once ([`HashError::Busy`]), so a
//! burst costs a 503, not memory. The command line hashes directly with [`hash`].

use std::sync::mpsc::{self, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use rocket::tokio::sync::oneshot;

use crate::scim::error::ScimError;

/// argon2's working memory (about 19 MiB with the default parameters). A hashing thread keeps
/// its workspace while jobs are queued (a burst of sign-ins or an import with passwords hashes
/// back to back without reallocating) and frees it when the queue runs dry, so an idle server
/// holds none. See [`WORKSPACE_CAPACITY`] for why freeing it gives the memory back.
type Workspace = Vec<Block>;

/// Blocks a workspace reserves: 33 MiB, above glibc's largest mmap threshold (32 MiB on 64-bit,
/// mallopt(3)), so the workspace is always a mapping of its own that `free` unmaps. Smaller, it
/// would come from the thread's arena once the threshold had risen to its size (glibc raises
/// it to every mapped block freed), and an arena keeps a freed block that size for the life of
/// the process: 19 MiB per hashing thread. The blocks past what argon2 uses are never touched,
/// so they take address space, not memory.
const WORKSPACE_CAPACITY: usize = (33 << 20) / std::mem::size_of::<Block>();

/// Hashes a password with a fresh salt, on the calling thread.
pub fn hash(password: &str) -> Result<String, ScimError> {
    hash_in(&mut Workspace::new(), password)
}

/// Checks a password against a stored PHC hash, on the calling thread.
pub fn verify(password: &str, phc: &str) -> bool {
    verify_in(&mut Workspace::new(), password, phc)
}

fn hash_in(workspace: &mut Workspace, password: &str) -> Result<String, ScimError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        tracing::error!("argon2 {what} failed: {e}");
        ScimError::internal()
    };
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| failed("salt encoding", &e))?;
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let output = run(
        &argon,
        workspace,
        password,
        &bytes,
        Params::DEFAULT_OUTPUT_LEN,
    )
    .map_err(|e| failed("hashing", &e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed("parameters", &e))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

fn verify_in(workspace: &mut Workspace, password: &str, phc: &str) -> bool {
    let Ok(stored) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(stored.algorithm),
        Params::try_from(&stored),
    ) else {
        return false;
    };
    let version = stored
        .version
        .map_or(Ok(Version::default()), Version::try_from);
    let Ok(version) = version else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params);
    // `Output`'s equality is constant-time.
    run(&argon, workspace, password, salt_bytes, expected.len()).is_ok_and(|out| out == expected)
}

/// Runs argon2 in `workspace`, growing it when the parameters need more blocks.
fn run(
    argon: &Argon2<'_>,
    workspace: &mut Workspace,
    password: &str,
    salt: &[u8],
    output_len: usize,
) -> Result<Output, argon2::password_hash::Error> {
    let blocks = argon.params().block_count();
    if workspace.len() < blocks {
        workspace.reserve_exact(WORKSPACE_CAPACITY.max(blocks) - workspace.len());
        workspace.resize(blocks, Block::default());
    }
    let memory = workspace
        .get_mut(..blocks)
        .ok_or(argon2::password_hash::Error::Crypto)?;
    Output::init_with(output_len, |out| {
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, out, memory)
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
}

/// The pool's limits (`[limits]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// Hashes computed at once (`limits.password_hashes_at_once`; 0 = one per CPU core).
    pub at_once: usize,
    /// Longest password (and admin username) accepted, in bytes (`limits.max_password_bytes`):
    /// checked before any hashing, since argon2's cost grows with the input.
    pub max_bytes: usize,
}

/// Operations that may wait for a hashing thread, per thread: at most a second or two of
/// work at most, so a caller that is queued is answered promptly.
const QUEUE_PER_THREAD: usize = 32;

/// Why the pool did not produce an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    #[error(
        "every password hashing thread is busy and the queue is full; retry in a moment (limits.password_hashes_at_once)"
    )]
    Busy,
    #[error("the password is longer than {0} bytes (limits.max_password_bytes)")]
    TooLong(usize),
    #[error("password hashing failed")]
    Failed,
}

type Job = Box<dyn FnOnce(&mut Workspace) + Send>;

/// A fixed set of threads that hash and verify passwords, fed through a bounded queue.
pub struct HashPool {
    jobs: SyncSender<Job>,
    limits: PoolLimits,
}

static POOL: OnceLock<HashPool> = OnceLock::new();

/// Sets the pool's limits. The pool is process-wide (the bound it enforces is on the process),
/// so the first configuration wins; later calls (a second app in one test process) reuse it.
pub fn configure(limits: PoolLimits) -> &'static HashPool {
    POOL.get_or_init(|| HashPool::start(limits))
}

fn pool() -> &'static HashPool {
    configure(PoolLimits {
        at_once: 0,
        max_bytes: 256,
    })
}

impl HashPool {
    fn start(limits: PoolLimits) -> Self {
        let threads = match limits.at_once {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let (jobs, queue) = mpsc::sync_channel::<Job>(threads * QUEUE_PER_THREAD);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("scimd-hash-{i}"))
                .spawn(move || {
                    let mut workspace = Workspace::new();
                    loop {
                        // The lock is held only while taking the next job, not while running it.
                        let waiting = match queue.lock() {
                            Ok(q) => q.try_recv(),
                            Err(_) => return,
                        };
                        let job = match waiting {
                            Ok(job) => Ok(job),
                            Err(TryRecvError::Disconnected) => return,
                            Err(TryRecvError::Empty) => {
                                workspace = Workspace::new();
                                match queue.lock() {
                                    Ok(q) => q.recv(),
                                    Err(_) => return,
                                }
                            }
                        };
                        match job {
                            Ok(job) => job(&mut workspace),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start password hashing thread {i}: {e}");
            }
        }
        Self { jobs, limits }
    }

    /// The limits the pool runs with.
    pub fn limits(&self) -> PoolLimits {
        self.limits
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Workspace) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |workspace| {
            let _ = tx.send(work(workspace));
        });
        match self.jobs.try_send(job) {
            Ok(()) => rx.await.map_err(|_| HashError::Failed),
            Err(TrySendError::Full(_)) => Err(HashError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(HashError::Failed),
        }
    }

    fn check_length(&self, password: &str) -> Result<(), HashError> {
        if password.len() > self.limits.max_bytes {
            return Err(HashError::TooLong(self.limits.max_bytes));
        }
        Ok(())
    }
}

/// Hashes `password` on the pool.
pub async fn hash_pooled(password: String) -> Result<String, HashError> {
    let pool = pool();
    pool.check_length(&password)?;
    pool.run(move |ws| hash_in(ws, &password))
        .await?
        .map_err(|_| HashError::Failed)
}

/// Verifies `password` against `phc` on the pool.
pub async fn verify_pooled(password: String, phc: String) -> Result<bool, HashError> {
    let pool = pool();
    pool.check_length(&password)?;
    pool.run(move |ws| verify_in(ws, &password, &phc)).await
}

/// The longest password (and admin username) accepted, in bytes.
pub fn max_bytes() -> usize {
    pool().limits().max_bytes
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let h = super::hash("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("correct horse"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong", &h));
    }

    #[test]
    fn hashes_are_interchangeable_with_the_argon2_crates_own() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
        // Hashes stored by earlier versions (made with `PasswordHasher`) still verify…
        let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
        let theirs = argon2::Argon2::default()
            .hash_password(b"correct horse", &salt)
            .expect("hash")
            .to_string();
        let mut workspace = super::Workspace::new();
        assert!(super::verify_in(&mut workspace, "correct horse", &theirs));
        assert!(!super::verify_in(&mut workspace, "wrong", &theirs));
        // …and ours verify with the crate's own verifier, from a reused workspace.
        let ours = super::hash_in(&mut workspace, "correct horse").expect("hash");
        let parsed = argon2::PasswordHash::new(&ours).expect("PHC");
        assert!(
            argon2::Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(!super::verify("correct horse", "not a PHC string"));
    }

    #[rocket::async_test]
    async fn the_pool_hashes_verifies_and_refuses_overlong_input() {
        let h = super::hash_pooled("correct horse".into())
            .await
            .expect("hash");
        assert_eq!(
            super::verify_pooled("correct horse".into(), h.clone()).await,
            Ok(true)
        );
        assert_eq!(super::verify_pooled("wrong".into(), h).await, Ok(false));
        let long = "x".repeat(super::max_bytes() + 1);
        assert_eq!(
            super::hash_pooled(long).await,
            Err(super::HashError::TooLong(super::max_bytes()))
        );
    }
}
