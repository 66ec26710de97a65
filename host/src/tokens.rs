//! API tokens: who may call the HTTP API, with which role.
//!
//! A token's secret (`spt_` and 64 hex digits, 256 random bits) is shown once, by
//! `tokens:create`, and never stored: the store keeps its SHA-256 (a secret this long needs
//! no slow hash) and the first characters of the secret, so a person can tell which token
//! a leaked string is. The store is `DATA_DIR/tokens.json`, private like everything in the
//! data dir, rewritten whole through a temporary file and a rename; the serving host holds
//! it in memory, so a revocation takes effect on the next request.
//!
//! The `tokens:*` commands are `local` (manifest `access`): only the data dir's owner,
//! through the socket, manages tokens; no token can mint another.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use systemprompt_module_sdk::CommandError;
use systemprompt_module_sdk::manifest::{Access, Manifest};

/// The commands that manage tokens, as a manifest.
pub fn manifest() -> Manifest {
    Manifest::parse("host/tokens.yaml", include_str!("../tokens.yaml"))
        .expect("invariant: the built-in tokens manifest is valid")
}

/// What every secret starts with, so scanners and people recognise one.
pub const SECRET_PREFIX: &str = "spt_";
/// How many characters of the secret the store keeps to name it.
const SHOWN_CHARS: usize = 12;

/// One token as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    /// `tok_` and a UUID.
    pub id: String,
    /// A unique name chosen by its creator.
    pub name: String,
    /// The first characters of the secret.
    pub prefix: String,
    /// SHA-256 of the secret, lowercase hex.
    hash: String,
    /// What it may do.
    pub role: Access,
    /// Seconds since the epoch.
    pub created_at: u64,
    /// Seconds since the epoch; `None` never expires.
    pub expires_at: Option<u64>,
    /// Seconds since the epoch, once revoked.
    pub revoked_at: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<Token>,
}

/// Why a presented token was refused: always a 401, the reason for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such token.
    Unknown,
    /// It was revoked.
    Revoked,
    /// Its expiry has passed.
    Expired,
}

impl Refusal {
    /// The reason, for the 401's message.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Unknown => "the bearer token is not one of this host's tokens",
            Refusal::Revoked => "the bearer token was revoked",
            Refusal::Expired => "the bearer token has expired",
        }
    }
}

/// The host's tokens.
pub struct TokenStore {
    path: PathBuf,
    // Invariant: `by_hash` indexes `file.tokens` by hash; both change only under the lock,
    // and the file on disk is written before the lock is released.
    state: RwLock<(TokenFile, HashMap<String, usize>)>,
}

fn now_secs() -> u64 {
    // Token expiry is the machine's wall time by definition (a token made "for 30 days"
    // ends 30 calendar days later); nothing here is scheduled, so no clock travel is needed.
    #[allow(clippy::disallowed_methods)]
    let now = SystemTime::now();
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn index(file: &TokenFile) -> HashMap<String, usize> {
    file.tokens.iter().enumerate().map(|(i, t)| (t.hash.clone(), i)).collect()
}

impl TokenStore {
    /// Opens the store in `data_dir` (an absent file is no tokens).
    pub fn open(data_dir: &std::path::Path) -> anyhow::Result<TokenStore> {
        let path = data_dir.join("tokens.json");
        let file = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|error| anyhow::anyhow!("{} is damaged: {error}", path.display()))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => TokenFile::default(),
            Err(error) => anyhow::bail!("cannot read {}: {error}", path.display()),
        };
        let by_hash = index(&file);
        Ok(TokenStore { path, state: RwLock::new((file, by_hash)) })
    }

    /// Whether any token exists (the API answers 401 with how to make one until then).
    pub fn is_empty(&self) -> bool {
        self.state.read().map_or(true, |state| state.0.tokens.is_empty())
    }

    /// The role of the token whose secret is `secret`, if it may be used now.
    pub fn verify(&self, secret: &str) -> Result<Token, Refusal> {
        let state = self.state.read().map_err(|_| Refusal::Unknown)?;
        let token = state.1.get(&hash(secret)).and_then(|&i| state.0.tokens.get(i)).ok_or(Refusal::Unknown)?;
        if token.revoked_at.is_some() {
            return Err(Refusal::Revoked);
        }
        if token.expires_at.is_some_and(|at| at <= now_secs()) {
            return Err(Refusal::Expired);
        }
        Ok(token.clone())
    }

    fn save(&self, file: &TokenFile) -> Result<(), CommandError> {
        let fail = |error: std::io::Error| {
            CommandError::internal(format!("cannot write {}: {error}; nothing changed", self.path.display()))
        };
        let bytes = serde_json::to_vec_pretty(file).map_err(|error| CommandError::internal(error.to_string()))?;
        let temporary = self.path.with_extension("json.tmp");
        let _ = std::fs::remove_file(&temporary);
        let mut out = crate::datadir::open_no_follow(
            &temporary,
            std::fs::OpenOptions::new().write(true).create_new(true).truncate(true),
        )
        .map_err(|error| CommandError::internal(format!("cannot write {}: {error}", temporary.display())))?;
        std::io::Write::write_all(&mut out, &bytes).map_err(fail)?;
        out.sync_all().map_err(fail)?;
        std::fs::rename(&temporary, &self.path).map_err(fail)
    }

    /// Changes the tokens with `change`, writes the file, and only then makes it current:
    /// a failed write (a full disk) changes nothing.
    fn change<T>(&self, change: impl FnOnce(&mut TokenFile) -> Result<T, CommandError>) -> Result<T, CommandError> {
        let mut state = self.state.write().map_err(|_| CommandError::internal("the token store is poisoned"))?;
        let mut next = TokenFile { tokens: state.0.tokens.clone() };
        let answer = change(&mut next)?;
        self.save(&next)?;
        let by_hash = index(&next);
        *state = (next, by_hash);
        Ok(answer)
    }
}

/// `tokens:create`'s params.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateParams {
    role: String,
    name: Option<String>,
    expires: Option<String>,
}

/// `tokens:revoke`'s params.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeParams {
    id: String,
}

/// A token as the commands show it (never its hash).
#[derive(Serialize)]
struct TokenView<'a> {
    id: &'a str,
    name: &'a str,
    prefix: &'a str,
    role: &'static str,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    state: &'static str,
}

fn instant(secs: u64) -> String {
    jiff::Timestamp::from_second(i64::try_from(secs).unwrap_or(i64::MAX))
        .map_or_else(|_| secs.to_string(), |t| t.to_string())
}

fn view(token: &Token) -> TokenView<'_> {
    let state = if token.revoked_at.is_some() {
        "revoked"
    } else if token.expires_at.is_some_and(|at| at <= now_secs()) {
        "expired"
    } else {
        "active"
    };
    TokenView {
        id: &token.id,
        name: &token.name,
        prefix: &token.prefix,
        role: token.role.role_name(),
        created_at: instant(token.created_at),
        expires_at: token.expires_at.map(instant),
        revoked_at: token.revoked_at.map(instant),
        state,
    }
}

fn params<T: serde::de::DeserializeOwned>(command: &str, payload: &[u8]) -> Result<T, CommandError> {
    let payload: &[u8] = if payload.is_empty() { b"{}" } else { payload };
    serde_json::from_slice(payload).map_err(|error| CommandError::invalid_params(format!("{command}: {error}")))
}

fn json(value: &impl Serialize) -> crate::bus::CallResult {
    serde_json::to_vec(value).map_err(|error| CommandError::internal(error.to_string()))
}

impl TokenStore {
    /// `tokens:create`: a new token; the answer holds its secret, shown this once.
    pub fn create(&self, payload: &[u8]) -> crate::bus::CallResult {
        let params: CreateParams = params("tokens:create", payload)?;
        let role = Access::from_role(&params.role).ok_or_else(|| {
            CommandError::invalid_params(format!("--role must be viewer, operator or admin, got '{}'", params.role))
        })?;
        let lifetime = params
            .expires
            .as_deref()
            .map(|text| {
                humantime::parse_duration(text).ok().filter(|d| *d >= Duration::from_secs(1)).ok_or_else(|| {
                    CommandError::invalid_params(format!(
                        "--expires must be a lifetime of at least 1s such as 30d, 12h or 90m, got '{text}'"
                    ))
                })
            })
            .transpose()?;
        let id = format!("tok_{}", uuid::Uuid::new_v4().simple());
        let name = params.name.unwrap_or_else(|| id.clone());
        if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            return Err(CommandError::invalid_params("--name must be 1-128 printable characters"));
        }
        let mut secret = String::from(SECRET_PREFIX);
        for byte in rand::random::<[u8; 32]>() {
            secret.push_str(&format!("{byte:02x}"));
        }
        let created_at = now_secs();
        let token = Token {
            id,
            name,
            prefix: secret.chars().take(SHOWN_CHARS).collect(),
            hash: hash(&secret),
            role,
            created_at,
            expires_at: lifetime.map(|d| created_at.saturating_add(d.as_secs())),
            revoked_at: None,
        };
        let made = self.change(|file| {
            if file.tokens.iter().any(|t| t.name == token.name) {
                return Err(CommandError::new(
                    systemprompt_module_sdk::error::code::CONFLICT,
                    format!("a token named '{}' exists; choose another --name", token.name),
                ));
            }
            file.tokens.push(token.clone());
            Ok(token)
        })?;
        let mut answer =
            serde_json::to_value(view(&made)).map_err(|error| CommandError::internal(error.to_string()))?;
        answer["secret"] = serde_json::Value::String(secret);
        answer["note"] = "the secret is shown only now; send it as 'Authorization: Bearer <secret>'".into();
        json(&answer)
    }

    /// `tokens:list`: every token, without secrets or hashes.
    pub fn list(&self) -> crate::bus::CallResult {
        let state = self.state.read().map_err(|_| CommandError::internal("the token store is poisoned"))?;
        json(&state.0.tokens.iter().map(view).collect::<Vec<_>>())
    }

    /// `tokens:revoke`: the token (by id or name) stops working on the next request.
    pub fn revoke(&self, payload: &[u8]) -> crate::bus::CallResult {
        let params: RevokeParams = params("tokens:revoke", payload)?;
        let revoked = self.change(|file| {
            let token = file.tokens.iter_mut().find(|t| t.id == params.id || t.name == params.id).ok_or_else(|| {
                CommandError::new(
                    systemprompt_module_sdk::error::code::NOT_FOUND,
                    format!("no token has the id or name '{}' (see tokens:list)", params.id),
                )
            })?;
            token.revoked_at.get_or_insert_with(now_secs);
            Ok(token.clone())
        })?;
        json(&view(&revoked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(store: &TokenStore, payload: serde_json::Value) -> serde_json::Value {
        serde_json::from_slice(&store.create(payload.to_string().as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn a_created_token_verifies_by_its_secret_and_only_its_hash_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path()).unwrap();
        let made = created(&store, serde_json::json!({"role": "operator", "name": "ci"}));
        let secret = made["secret"].as_str().unwrap();
        assert!(secret.starts_with("spt_") && secret.len() == 68, "{secret}");
        assert_eq!(store.verify(secret).unwrap().role, Access::Operate);
        let file = std::fs::read_to_string(dir.path().join("tokens.json")).unwrap();
        assert!(!file.contains(&secret[SHOWN_CHARS..]), "the secret is on disk: {file}");
        // Reopened, as a restarted host would.
        let reopened = TokenStore::open(dir.path()).unwrap();
        assert_eq!(reopened.verify(secret).unwrap().name, "ci");
        assert_eq!(reopened.verify("spt_0000").unwrap_err(), Refusal::Unknown);
    }

    #[test]
    fn a_revoked_token_is_refused_and_names_must_be_unique() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path()).unwrap();
        let made = created(&store, serde_json::json!({"role": "viewer", "name": "ro"}));
        let error = store.create(br#"{"role": "viewer", "name": "ro"}"#).unwrap_err();
        assert_eq!(error.code, "conflict");
        store.revoke(br#"{"id": "ro"}"#).unwrap();
        assert_eq!(store.verify(made["secret"].as_str().unwrap()).unwrap_err(), Refusal::Revoked);
        let listed: serde_json::Value = serde_json::from_slice(&store.list().unwrap()).unwrap();
        assert_eq!(listed[0]["state"], "revoked");
        assert!(listed[0].get("hash").is_none() && listed[0].get("secret").is_none());
    }

    #[test]
    fn bad_create_params_are_refused_with_the_rule() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path()).unwrap();
        let error = store.create(br#"{"role": "root"}"#).unwrap_err();
        assert_eq!(error.message, "--role must be viewer, operator or admin, got 'root'");
        let error = store.create(br#"{"role": "admin", "expires": "soon"}"#).unwrap_err();
        assert!(error.message.starts_with("--expires must be a lifetime"), "{}", error.message);
        assert!(store.is_empty());
    }
}
