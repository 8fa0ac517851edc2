//! Opening a stack's state: for reading (plan, output, state list) or for writing under the lock (apply,
//! destroy, refresh, import, state rm).
//!
//! A journal left by a run that died is replayed onto the state it started from, and its pending operations
//! are reconciled with AWS, before anything is planned. Writing persists the state with serial + 1 and only
//! then removes the journal: a crash between the two leaves a journal whose base serial is one behind, which
//! the next run recognises as already compacted.

use std::sync::Arc;

use stackr_engine::apply::reconcile;
use stackr_engine::provider::Registry;
use stackr_state::journal::{self, JournalWriter};
use stackr_state::lock::LockError;
use stackr_state::secrets::{self, PassphraseCodec, SecretsCodec, SecretsConfig};
use stackr_state::StateFile;

use crate::printer::Printer;
use crate::report::Failure;
use crate::store::{Held, Store};
use crate::workspace::{self, Site};

/// An open secrets key and the record that opens it again.
pub type OpenKey = (Arc<dyn SecretsCodec>, stackr_state::secrets::SecretsConfig);

pub struct Session {
    /// Where the stack's state and AWS are.
    pub site: Site,
    pub store: Store,
    pub state: StateFile,
    /// Whether a state file existed (a new stack's first apply creates it).
    pub existed: bool,
    /// Whether an interrupted run's journal was replayed onto the state (it is still to be committed).
    pub replayed: bool,
    lock: Option<Held>,
    codec: Option<Arc<dyn SecretsCodec>>,
    /// The secrets record of the state as loaded (before any change of provider), and its codec if opened.
    state_key: Option<(SecretsConfig, Option<Arc<dyn SecretsCodec>>)>,
}

impl Session {
    /// Loads the state and any journal, without the lock: for plan and the read-only commands.
    pub fn read(site: &Site, registry: &Registry, printer: &Printer) -> Result<Session, Failure> {
        let store = workspace::store(site)?;
        let Loaded { state, existed, codec, replayed, state_key } = load(&store, site, false, printer)?;
        let mut session = Session { site: site.clone(), store, state, existed, replayed, lock: None, codec, state_key };
        session.reconcile(registry, false, printer)?;
        Ok(session)
    }

    /// Takes the lock, then loads as [`Session::read`] does; pending retired resources are deleted.
    pub fn write(site: &Site, registry: &Registry, operation: &str, printer: &Printer) -> Result<Session, Failure> {
        let store = workspace::store(site)?;
        let (lock, taken_over) = store.lock(&site.name, operation).map_err(|e| match e {
            e @ LockError::Held { .. } => Failure::hint(
                e,
                if store.is_local() {
                    "wait for that run to finish, or stop it: a local lock is released when its process ends".to_string()
                } else {
                    format!(
                        "wait for that run to finish; if it is gone for good, `stackr state unlock {}` removes the lock",
                        site.shown
                    )
                },
            ),
            other if !store.is_local() => Failure::hint(other, "check the bucket, its region and your access to it"),
            other => Failure::from(other),
        })?;
        if let Some(dead) = &taken_over {
            printer.err_line(&format!("note: took over the lock of a run that is gone: {dead}"));
        }
        let loaded = load(&store, site, true, printer);
        let Loaded { state, existed, codec, replayed, state_key } = match loaded {
            Ok(loaded) => loaded,
            Err(failure) => {
                let _ = store.release(&site.name, lock);
                return Err(failure);
            }
        };
        let mut session =
            Session { site: site.clone(), store, state, existed, replayed, lock: Some(lock), codec, state_key };
        session.reconcile(registry, true, printer)?;
        Ok(session)
    }

    /// The key the state records for its secrets, with its codec when this session opened it.
    pub fn state_key(&self) -> Option<(&SecretsConfig, Option<&Arc<dyn SecretsCodec>>)> {
        self.state_key.as_ref().map(|(config, codec)| (config, codec.as_ref()))
    }

    fn reconcile(&mut self, registry: &Registry, delete_retired: bool, printer: &Printer) -> Result<(), Failure> {
        if self.state.pending.is_empty() {
            return Ok(());
        }
        printer.err_line(&format!(
            "note: an interrupted run left {} operations in flight; reconciling them with AWS",
            self.state.pending.len()
        ));
        let runtime = workspace::runtime()?;
        // Reconciling reads AWS and concludes (adopted, never took effect, deleted): only where the run acted.
        crate::commands::planning::confirm_place(runtime, &mut self.state, registry)?;
        let done = runtime
            .block_on(reconcile::reconcile(
                &mut self.state,
                registry,
                delete_retired && self.lock.is_some(),
                workspace::reconcile_settle(),
            ))
            .map_err(|e| {
                Failure::hint(e, "fix the cause and run again; the journal is kept until reconciling succeeds")
            })?;
        for note in done.notes {
            printer.err_line(&format!("note: {note}"));
        }
        if self.lock.is_some() {
            // What reconcile resolved (adopted, deleted, found gone) must reach the stored state in this run,
            // even when nothing else changes: commit before the next journal, or on a no-change apply.
            self.replayed = true;
        }
        Ok(())
    }

    /// Re-encrypts the state's secrets under the provider the site names, when the state records another: the
    /// change a plan shows (`~ secrets: … re-encrypted`), made by the apply of that plan once it is verified.
    /// The state's own key has already opened what it holds; the next commit seals it under the new one.
    pub fn rekey(&mut self) -> Result<(), Failure> {
        let wanted = self.site.secrets_provider();
        match &self.state.secrets {
            Some(recorded) if recorded.provider != wanted => {}
            _ => return Ok(()),
        }
        let (codec, config) = open(&self.site, &self.state.lineage.0, wanted, None)?;
        self.state.secrets = Some(config);
        self.codec = Some(codec);
        Ok(())
    }

    /// Opens the journal for a run.
    pub fn open_journal(&self) -> Result<JournalWriter, Failure> {
        self.store.open_journal(&self.state.stack, self.codec.clone())
    }

    /// Persists `state` as the next serial and removes the journal. Needs the lock.
    pub fn commit(&mut self, mut state: StateFile) -> Result<(), Failure> {
        if self.lock.is_none() {
            return Err(anyhow::anyhow!("internal: state written without the lock").into());
        }
        state.serial = self.state.serial + 1;
        state.secrets = self.state.secrets.clone();
        let mut sealed = state.clone();
        if let Some(codec) = &self.codec {
            secrets::seal_state(&mut sealed, codec.as_ref())
                .map_err(|e| anyhow::anyhow!("cannot encrypt the state's secrets: {e}"))?;
        }
        self.store.persist(&sealed)?;
        self.store.remove_journal(&state.stack)?;
        self.state = state;
        self.existed = true;
        self.replayed = false;
        Ok(())
    }

    pub fn release(mut self) -> Result<(), Failure> {
        if let Some(lock) = self.lock.take() {
            self.store.release(&self.state.stack, lock)?;
        }
        Ok(())
    }
}

impl Drop for Session {
    /// A command that ends early (an error after the lock was taken) still releases it; a local lock would
    /// release itself, an S3 lock object would otherwise wait for its lease.
    fn drop(&mut self) {
        if let Some(lock) = self.lock.take() {
            let _ = self.store.release(&self.state.stack, lock);
        }
    }
}

/// The state (secrets decrypted), with a leftover journal replayed onto it, and the codec for its secrets.
fn load(store: &Store, stack: &Site, writing: bool, printer: &Printer) -> Result<Loaded, Failure> {
    // Reading failed (no access, no bucket) or what was read is refused: each has its own way out.
    let unreadable = |e: stackr_state::StateError| {
        let hint = match (&e, store.is_local()) {
            (stackr_state::StateError::Io { .. }, true) => "check the file's and its directory's permissions",
            (stackr_state::StateError::Io { .. }, false) => "check the bucket, its region and your access to it",
            (_, true) => {
                "stackr never overwrites a state file it cannot read; restore it from the .bak beside it or from version control"
            }
            (_, false) => {
                "stackr never overwrites a state it cannot read; restore an earlier version of the object (bucket versioning)"
            }
        };
        Failure::hint(e, hint)
    };
    let loaded = store.load(&stack.name).map_err(unreadable)?;
    let mut existed = loaded.is_some();
    let mut state = match loaded {
        Some(state) => state,
        None => StateFile::create(&stack.name).map_err(anyhow::Error::from)?,
    };
    let journal_path = store.journal_name(&stack.name);
    let damaged = |e| Failure::hint(e, "the journal of an interrupted run is damaged; inspect it before removing it");
    let mut records = store.read_journal(&stack.name).map_err(|e| match e {
        e @ stackr_state::StateError::Io { .. } => unreadable(e),
        other => damaged(other),
    })?;
    if !writing && !records.is_empty() {
        if let Some(holder) = store.live_holder(&stack.name) {
            // A run is in progress: its journal is its own, not an interrupted run's. Read the last committed state.
            printer.err_line(&format!(
                "note: a run is in progress ({}); showing the state as last committed",
                stackr_state::lock::describe_holder(holder.as_ref())
            ));
            records.clear();
        }
    }
    if writing && records.is_empty() && store.is_local() && journal_path.exists() {
        // Nothing but a torn fragment: a run that died in its first write. Nothing to replay; the lock holder
        // removes it, or it would sit there forever.
        store.remove_journal(&stack.name)?;
    }
    let resumed = journal::resume(&mut state, existed, &records).map_err(|e| {
        let hint = match &e {
            journal::ResumeError::NoBegin => {
                "it is incomplete (its first records were removed); move it aside after checking what it records"
            }
            journal::ResumeError::OtherLineage(_) => "move it aside if it is not this stack's",
            journal::ResumeError::OtherSerial { .. } => {
                "the state was replaced after that run; move the journal aside after checking it"
            }
        };
        Failure::hint(anyhow::anyhow!("{}: {e}", journal_path.display()), hint)
    })?;
    let (replay, journal_secrets) = match resumed {
        journal::Resume::Replay { secrets } => (true, secrets),
        journal::Resume::Compacted => {
            // The run died after compacting, before removing the journal. Only the lock holder removes it.
            records.clear();
            if writing {
                store.remove_journal(&stack.name)?;
            }
            (false, None)
        }
        journal::Resume::Nothing => (false, None),
    };
    let sealed = secrets::values(&state).any(secrets::find_sealed);
    let journal_sealed = replay && records.iter().any(journal::holds_sealed);
    let recorded = state.secrets.clone();
    let Codecs { read, write } = codecs(
        stack,
        &mut state,
        sealed,
        // A read (plan) needs only the state's key, unless an interrupted run's journal holds values sealed
        // with that run's; a write re-seals what the state holds.
        writing && (stack.has_secrets || sealed) || journal_sealed,
        journal_secrets.as_ref(),
    )?;
    if let Some(codec) = &read {
        secrets::unseal_state(&mut state, codec.as_ref()).map_err(|e| {
            Failure::hint(
                anyhow::anyhow!("cannot decrypt the state's secrets: {e}"),
                "check the secrets provider's key",
            )
        })?;
    }
    let state_key = recorded.map(|config| (config, read.clone()));
    // The journal of a run that died was written with that run's codec: the one its Begin record names.
    let codec = write.or(read);
    if replay {
        journal::unseal_records(&mut records, &journal_path, codec.as_deref()).map_err(damaged)?;
        printer.err_line(&format!("note: replaying {} records of an interrupted run", records.len()));
        journal::replay(&mut state, &records).map_err(|e| {
            Failure::hint(
                anyhow::anyhow!("{}: {e}", journal_path.display()),
                "the journal of an interrupted run is damaged; inspect it before removing it",
            )
        })?;
        // A run that died before its first state file still made a state: plan against it.
        existed = true;
    }
    Ok(Loaded { state, existed, codec, replayed: replay, state_key })
}

struct Loaded {
    state: StateFile,
    existed: bool,
    codec: Option<Arc<dyn SecretsCodec>>,
    replayed: bool,
    state_key: Option<(SecretsConfig, Option<Arc<dyn SecretsCodec>>)>,
}

struct Codecs {
    /// Decrypts what the state holds (under the provider it records).
    read: Option<Arc<dyn SecretsCodec>>,
    /// Encrypts what this run writes (under the stack's provider).
    write: Option<Arc<dyn SecretsCodec>>,
}

/// The codecs for the state's secrets. The state records which provider encrypted them, and a write keeps
/// it (a change of provider is a step of the plan: [`Session::rekey`]); a stack with no key yet gets one of the
/// provider it names. An interrupted run's journal names the configuration it wrote with, which this run
/// continues.
fn codecs(
    stack: &Site,
    state: &mut StateFile,
    sealed: bool,
    writes_secrets: bool,
    journal_secrets: Option<&stackr_state::secrets::SecretsConfig>,
) -> Result<Codecs, Failure> {
    let recorded = state.secrets.clone();
    let wanted = journal_secrets
        .or(recorded.as_ref())
        .map_or_else(|| stack.secrets_provider().to_string(), |c| c.provider.clone());
    let lineage = state.lineage.0.clone();
    let read = match (&recorded, sealed) {
        (Some(config), true) => Some(open(stack, &lineage, &config.provider, Some(config))?.0),
        (None, true) => {
            return Err(anyhow::anyhow!("the state holds encrypted secrets but records no secrets provider").into())
        }
        _ => None,
    };
    if !writes_secrets {
        return Ok(Codecs { read, write: None });
    }
    let continued = journal_secrets.filter(|c| c.provider == wanted && Some(*c) != recorded.as_ref());
    let write = match (&recorded, &read, continued) {
        (Some(config), Some(read), None) if config.provider == wanted => Arc::clone(read),
        _ => {
            let existing = continued.or(recorded.as_ref().filter(|c| c.provider == wanted));
            let (codec, config) = open(stack, &lineage, &wanted, existing)?;
            state.secrets = Some(config);
            codec
        }
    };
    Ok(Codecs { read, write: Some(write) })
}

/// Opens (or, with no matching record, creates) the codec of one provider.
/// `STACKR_PASSPHRASE`, which a stack with secrets needs (with the passphrase provider).
pub fn passphrase(stack: &Site) -> Result<zeroize::Zeroizing<String>, Failure> {
    std::env::var("STACKR_PASSPHRASE").ok().filter(|p| !p.is_empty()).map(zeroize::Zeroizing::new).ok_or_else(|| {
        Failure::hint(
            anyhow::anyhow!(
                "stack {} keeps secrets (or its state records a secrets key), and its key comes from STACKR_PASSPHRASE, which is not set",
                stack.name
            ),
            "set STACKR_PASSPHRASE (the key that encrypts secrets in the state), or use secretsProvider: awskms://KEY",
        )
    })
}

pub fn open(
    stack: &Site,
    lineage: &str,
    provider: &str,
    recorded: Option<&stackr_state::secrets::SecretsConfig>,
) -> Result<OpenKey, Failure> {
    if provider.starts_with("awskms://") {
        let runtime = workspace::runtime()?;
        let region = stack.region();
        let config = runtime.block_on(stackr_providers::aws::load_config(region));
        let bound = [("stack".to_string(), stack.name.clone()), ("lineage".to_string(), lineage.to_string())];
        let (codec, recorded) = runtime
            .block_on(stackr_providers::kms::data_key::codec(&config, provider, recorded, bound.into_iter().collect()))
            .map_err(|e| {
                Failure::hint(e, "stackr needs kms:Decrypt on that key (and kms:GenerateDataKey for a new state)")
            })?;
        return Ok((Arc::new(codec), recorded));
    }
    if provider != "passphrase" {
        return Err(anyhow::anyhow!("unknown secrets provider {provider:?}").into());
    }
    let passphrase = passphrase(stack)?;
    match recorded {
        Some(config) => {
            let codec = PassphraseCodec::open(&passphrase, config).map_err(|e| match e {
                e @ secrets::SecretsError::WrongKey => {
                    Failure::hint(e, "use the passphrase this stack's state was first written with")
                }
                other => Failure::hint(
                    other,
                    "the state's secrets configuration is damaged; restore the state from its .bak",
                ),
            })?;
            Ok((Arc::new(codec), config.clone()))
        }
        None => {
            let (codec, config) = PassphraseCodec::create(&passphrase).map_err(anyhow::Error::from)?;
            Ok((Arc::new(codec), config))
        }
    }
}
