//! Secrets on disk: the API token and the key that encrypts stored controller/Plume secrets.
//!
//! Both live in the data dir with mode 0600, as regular files: a symlink in their place is
//! refused, never followed or chmodded (a symlinked `api_token` could otherwise make the
//! sidecar tighten, read or overwrite a file of someone else's choosing). Settings are sealed with ChaCha20-Poly1305
//! (random 96-bit nonce per write, stored in front of the ciphertext), so a copied database
//! without the key file reveals no passwords. Nothing here is ever logged.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};

pub const TOKEN_FILE: &str = "api_token";
pub const KEY_FILE: &str = "secret.key";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is a symbolic link; refusing to follow it for a secret file (replace it with the file itself)")]
    Symlink(String),
    #[error("{0} is not a regular file")]
    NotAFile(String),
    #[error("{0} is malformed")]
    Malformed(String),
    #[error("stored secret cannot be decrypted (wrong or replaced key file)")]
    Decrypt,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SecretError + '_ {
    move |source| SecretError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Open an existing secret file for reading, refusing symlinks and non-files; `None` when
/// it does not exist.
fn open_secret(path: &Path) -> Result<Option<std::fs::File>, SecretError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    if meta.file_type().is_symlink() {
        return Err(SecretError::Symlink(path.display().to_string()));
    }
    if !meta.is_file() {
        return Err(SecretError::NotAFile(path.display().to_string()));
    }
    let file = std::fs::File::open(path).map_err(io(path))?;
    // The file opened must be the one looked at: a symlink swapped in between would open
    // another inode.
    let opened = file.metadata().map_err(io(path))?;
    if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
        return Err(SecretError::Symlink(path.display().to_string()));
    }
    Ok(Some(file))
}

/// Read a 0600 file, or create it with `make()` when missing. Tightens looser permissions
/// (on the open file, so nothing but that file is changed).
fn read_or_create(path: &Path, make: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>, SecretError> {
    match open_secret(path)? {
        Some(mut file) => {
            let meta = file.metadata().map_err(io(path))?;
            if meta.permissions().mode() & 0o077 != 0 {
                file.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .map_err(io(path))?;
            }
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut bytes).map_err(io(path))?;
            Ok(bytes)
        }
        None => {
            let bytes = make();
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(io(path))?;
            f.write_all(&bytes).map_err(io(path))?;
            f.sync_all().map_err(io(path))?;
            Ok(bytes)
        }
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("OS random number generator unavailable");
    b
}

/// The API token: 32 random bytes, URL-safe base64, created at first start.
pub fn load_or_create_token(data_dir: &Path) -> Result<String, SecretError> {
    let path = data_dir.join(TOKEN_FILE);
    let bytes = read_or_create(&path, || {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(random::<32>())
            .into_bytes()
    })?;
    let token =
        String::from_utf8(bytes).map_err(|_| SecretError::Malformed(path.display().to_string()))?;
    let token = token.trim().to_owned();
    if token.len() < 32 {
        return Err(SecretError::Malformed(path.display().to_string()));
    }
    Ok(token)
}

/// Read the token without creating it (for `rental-wifi-sidecar token`).
pub fn read_token(data_dir: &Path) -> Result<String, SecretError> {
    let path = data_dir.join(TOKEN_FILE);
    let Some(mut file) = open_secret(&path)? else {
        return Err(io(&path)(std::io::ErrorKind::NotFound.into()));
    };
    let mut token = String::new();
    std::io::Read::read_to_string(&mut file, &mut token).map_err(io(&path))?;
    Ok(token.trim().to_owned())
}

/// Seals and opens settings blobs.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl Sealer {
    pub fn load_or_create(data_dir: &Path) -> Result<Sealer, SecretError> {
        let path = data_dir.join(KEY_FILE);
        let key = read_or_create(&path, || random::<32>().to_vec())?;
        if key.len() != 32 {
            return Err(SecretError::Malformed(path.display().to_string()));
        }
        let cipher = ChaCha20Poly1305::new_from_slice(&key)
            .map_err(|_| SecretError::Malformed(path.display().to_string()))?;
        Ok(Sealer { cipher })
    }

    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let nonce_bytes = random::<12>();
        let nonce = Nonce::from_slice(&nonce_bytes);
        let mut out = nonce_bytes.to_vec();
        out.extend(
            self.cipher
                .encrypt(nonce, plain)
                .expect("encryption of an in-memory buffer cannot fail"),
        );
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        if sealed.len() < 12 + 16 {
            return Err(SecretError::Decrypt);
        }
        let (nonce, ct) = sealed.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| SecretError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_stable_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_token(dir.path()).unwrap();
        let b = load_or_create_token(dir.path()).unwrap();
        assert_eq!(a, b);
        assert!(a.len() >= 43);
        let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_symlinked_token_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("someone-elses-file");
        std::fs::write(&target, "x".repeat(43)).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join(TOKEN_FILE)).unwrap();
        let err = load_or_create_token(dir.path()).unwrap_err();
        assert!(matches!(err, SecretError::Symlink(_)), "{err}");
        assert!(read_token(dir.path()).is_err());
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "the target was not chmodded");
        // The key file too; a dangling link is refused as well, not created through.
        std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join(KEY_FILE)).unwrap();
        assert!(matches!(
            Sealer::load_or_create(dir.path()),
            Err(SecretError::Symlink(_))
        ));
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn a_loose_token_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKEN_FILE);
        std::fs::write(&path, "y".repeat(43)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(load_or_create_token(dir.path()).unwrap(), "y".repeat(43));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn seal_roundtrip_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sealer::load_or_create(dir.path()).unwrap();
        let sealed = s.seal(b"operator-pass");
        assert!(!sealed.windows(13).any(|w| w == b"operator-pass"));
        assert_eq!(s.open(&sealed).unwrap(), b"operator-pass");
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(s.open(&bad).is_err());
        let other = Sealer::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.open(&sealed).is_err());
    }
}
