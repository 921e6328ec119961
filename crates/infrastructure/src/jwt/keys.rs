//! Signing keys: generated once under `var/` outside production (mode 0600,
//! safe against instances racing to create it), and their key ids.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::alg::ed::{EdCurve, EdKeyPair};
use sha2::{Digest, Sha256};

use crate::settings::Algorithm;

pub(super) fn default_key_file(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::EdDSA => "jwt-ed25519.pem",
        Algorithm::HS256 => "jwt-hs256.key",
    }
}

/// Creates a new key file for `algorithm` at `path` (mode 0600), unless one
/// exists; returns the key on disk. Operators can also use `openssl genpkey
/// -algorithm ed25519`.
///
/// # Errors
/// When the key cannot be generated or written.
pub fn generate_key(algorithm: Algorithm, path: &Path) -> anyhow::Result<Vec<u8>> {
    let key = match algorithm {
        Algorithm::EdDSA => EdKeyPair::generate(EdCurve::Ed25519)?.to_pem_private_key(),
        Algorithm::HS256 => URL_SAFE_NO_PAD
            .encode(crate::system::random_bytes::<48>()?)
            .into_bytes(),
    };
    write_private(path, &key)?;
    tracing::warn!(path = %path.display(), "generated a new token signing key; set tokens.signing_key_file in production");
    // Another instance may have created the file first: use what is on disk.
    Ok(std::fs::read(path)?)
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let tmp: PathBuf = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = options
        .open(&tmp)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    // Linking never replaces an existing file: if another instance won the
    // race to create the key, theirs is kept.
    let linked = std::fs::hard_link(&tmp, path);
    std::fs::remove_file(&tmp)?;
    if let Err(err) = linked
        && err.kind() != std::io::ErrorKind::AlreadyExists
    {
        anyhow::bail!("cannot write {}: {err}", path.display());
    }
    Ok(())
}

/// A key id derived from the key itself, so every instance sharing a key
/// agrees on it without configuration.
pub(super) fn key_id(material: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(material)[..12])
}
