//! TOTP secrets at rest: AES-256-GCM under a key read from a file, or
//! generated once under `var/` outside production (mode 0600, safe against
//! instances racing to create it).

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use auth_domain::mfa::{CryptoError, SealedSecret, SecretBox};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};

/// The key file used when `mfa.encryption_key_file` is empty, under the
/// data directory.
pub const DEFAULT_KEY_FILE: &str = "mfa-encryption.key";

/// The format of sealed values: the prefix names the algorithm and layout,
/// so a later format can sit beside this one in the same column.
const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Key files may be written with either base64 alphabet, padded or not.
const STANDARD_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// AES-256-GCM with a fresh random 96-bit nonce per seal. A sealed value is
/// `v1:` + base64url (no padding) of `nonce || ciphertext || tag`.
///
/// Random nonces are safe here: the birthday bound of 96-bit nonces
/// (2^32 seals per key) is far beyond the number of TOTP secrets a
/// deployment ever writes.
#[derive(Clone)]
pub struct AesSecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for AesSecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesSecretBox([redacted])")
    }
}

impl AesSecretBox {
    /// A box under a 256-bit key.
    #[must_use]
    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(key)),
        }
    }

    /// The key of `mfa.encryption_key_file`.
    ///
    /// With `path`, the file holds the 256-bit key as exactly 32 raw bytes,
    /// or as text (surrounding whitespace ignored): 64 hex digits, or 43/44
    /// base64 characters (standard or URL-safe alphabet, padding optional).
    /// `openssl rand -hex 32` or `openssl rand -base64 32` writes one.
    ///
    /// Without `path` (development), uses `key_dir/mfa-encryption.key`,
    /// generating it first (mode 0600 on unix, base64url text) when it does
    /// not exist. Refusing that in production is the caller's decision.
    ///
    /// # Errors
    /// When the file cannot be read or written, or does not hold a 256-bit
    /// key in one of those forms.
    pub fn from_key_file(path: Option<&Path>, key_dir: &Path) -> anyhow::Result<Self> {
        let key = match path {
            Some(path) => read_key(path)?,
            None => {
                let path = key_dir.join(DEFAULT_KEY_FILE);
                if !path.exists() {
                    generate_key(&path)?;
                }
                read_key(&path)?
            }
        };
        Ok(Self::from_bytes(key))
    }
}

impl SecretBox for AesSecretBox {
    fn seal(&self, plain: &[u8]) -> Result<SealedSecret, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| CryptoError(format!("no nonce: {e}")))?;
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), plain)
            .map_err(|_| CryptoError("encryption failed".to_owned()))?;
        let mut raw = Vec::with_capacity(NONCE_LEN + sealed.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        Ok(SealedSecret(format!(
            "{PREFIX}{}",
            URL_SAFE_NO_PAD.encode(raw)
        )))
    }

    fn open(&self, sealed: &SealedSecret) -> Result<Vec<u8>, CryptoError> {
        let encoded = sealed
            .0
            .strip_prefix(PREFIX)
            .ok_or_else(|| CryptoError("unknown sealed format".to_owned()))?;
        let raw = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| CryptoError("sealed value is not base64url".to_owned()))?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError("sealed value is too short".to_owned()));
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| CryptoError("sealed value is too short".to_owned()))?;
        // One message for a wrong key and an altered value: GCM cannot tell
        // them apart, and neither should a caller.
        self.cipher
            .decrypt(&Nonce::from(nonce), ciphertext)
            .map_err(|_| CryptoError("wrong key or altered value".to_owned()))
    }
}

/// Reads a key in one of the forms [`AesSecretBox::from_key_file`] names.
fn read_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    parse_key(&bytes).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: not a 256-bit key (32 raw bytes, 64 hex digits or 43/44 base64 characters)",
            path.display()
        )
    })
}

fn parse_key(bytes: &[u8]) -> Option<[u8; 32]> {
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Some(raw);
    }
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let decoded = match text.len() {
        64 => decode_hex(text)?,
        43 | 44 => STANDARD_ANY_PADDING
            .decode(text)
            .or_else(|_| URL_SAFE_ANY_PADDING.decode(text))
            .ok()?,
        _ => return None,
    };
    decoded.try_into().ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    // `from_str_radix` alone would also take a `+` sign.
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect()
}

/// Writes a new random key to `path` (mode 0600) unless one appears there
/// first; the caller then reads whatever is on disk.
fn generate_key(path: &Path) -> anyhow::Result<()> {
    let key = crate::system::random_bytes::<32>()?;
    write_private(path, URL_SAFE_NO_PAD.encode(key).as_bytes())?;
    tracing::warn!(
        path = %path.display(),
        "generated a new MFA encryption key; set mfa.encryption_key_file in production"
    );
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    // A temporary name of our own, so racing instances never share one.
    let tmp = path.with_extension(format!("{}.tmp", uuid::Uuid::now_v7().simple()));
    let written = options
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()));
    // Linking never replaces an existing file: if another instance won the
    // race to create the key, theirs is kept and both use it.
    let linked = written.map(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked? {
        Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => {
            anyhow::bail!("cannot write {}: {err}", path.display())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens() {
        let sealed_box = AesSecretBox::from_bytes([7; 32]);
        let sealed = sealed_box.seal(b"twenty bytes secret!").expect("seal");
        assert!(sealed.0.starts_with("v1:"), "{}", sealed.0);
        assert!(!sealed.0.contains("twenty"));
        assert_eq!(
            sealed_box.open(&sealed).expect("open"),
            b"twenty bytes secret!"
        );
        // A fresh nonce each time: the same secret never seals the same way.
        let again = sealed_box.seal(b"twenty bytes secret!").expect("seal");
        assert_ne!(sealed.0, again.0);
        // 12-byte nonce + 20-byte secret + 16-byte tag, base64url.
        assert_eq!(sealed.0.len(), 3 + (12 + 20 + 16) * 4 / 3);
    }

    #[test]
    fn an_altered_value_does_not_open() {
        let sealed_box = AesSecretBox::from_bytes([7; 32]);
        let sealed = sealed_box.seal(b"twenty bytes secret!").expect("seal");
        let mut raw = URL_SAFE_NO_PAD
            .decode(sealed.0.strip_prefix("v1:").expect("prefix"))
            .expect("base64");
        for position in [0, 12, raw.len() - 1] {
            let mut altered = raw.clone();
            altered[position] ^= 1;
            let altered = SealedSecret(format!("v1:{}", URL_SAFE_NO_PAD.encode(&altered)));
            assert!(sealed_box.open(&altered).is_err(), "byte {position}");
        }
        raw.truncate(20);
        let short = SealedSecret(format!("v1:{}", URL_SAFE_NO_PAD.encode(&raw)));
        assert!(sealed_box.open(&short).is_err());
        assert!(
            sealed_box
                .open(&SealedSecret(sealed.0.replacen("v1:", "v2:", 1)))
                .is_err()
        );
        assert!(sealed_box.open(&SealedSecret("v1:***".into())).is_err());
    }

    #[test]
    fn another_key_does_not_open() {
        let sealed = AesSecretBox::from_bytes([7; 32])
            .seal(b"twenty bytes secret!")
            .expect("seal");
        let error = AesSecretBox::from_bytes([8; 32])
            .open(&sealed)
            .expect_err("another key");
        assert!(error.to_string().contains("wrong key or altered value"));
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let shown = format!("{:?}", AesSecretBox::from_bytes([0xAB; 32]));
        assert_eq!(shown, "AesSecretBox([redacted])");
    }

    #[test]
    fn a_generated_key_persists_across_constructions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key_dir = dir.path().join("var");
        let first = AesSecretBox::from_key_file(None, &key_dir).expect("generate");
        let path = key_dir.join(DEFAULT_KEY_FILE);
        assert!(path.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = AesSecretBox::from_key_file(None, &key_dir).expect("reuse");
        let sealed = first.seal(b"twenty bytes secret!").expect("seal");
        assert_eq!(
            second.open(&sealed).expect("same key"),
            b"twenty bytes secret!"
        );
        // Only the key is left behind, no temporary file.
        assert_eq!(std::fs::read_dir(&key_dir).expect("dir").count(), 1);
        // The generated file is itself a valid configured key file.
        let configured = AesSecretBox::from_key_file(Some(&path), dir.path()).expect("configured");
        assert_eq!(
            configured.open(&sealed).expect("same key"),
            b"twenty bytes secret!"
        );
    }

    #[test]
    fn key_files_in_every_documented_form() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5A);
        let sealed = AesSecretBox::from_bytes(key).seal(b"secret").expect("seal");
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let forms: Vec<(&str, Vec<u8>)> = vec![
            ("raw", key.to_vec()),
            ("hex", format!("{hex}\n").into_bytes()),
            ("HEX", hex.to_uppercase().into_bytes()),
            (
                "base64",
                format!(
                    "{}\n",
                    base64::engine::general_purpose::STANDARD.encode(key)
                )
                .into_bytes(),
            ),
            (
                "base64 unpadded",
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .encode(key)
                    .into_bytes(),
            ),
            ("base64url", URL_SAFE_NO_PAD.encode(key).into_bytes()),
        ];
        for (name, contents) in forms {
            let path = dir.path().join(name);
            std::fs::write(&path, contents).expect("write");
            let opened = AesSecretBox::from_key_file(Some(&path), dir.path())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(opened.open(&sealed).expect(name), b"secret");
        }
        for (name, contents) in [
            ("short", vec![1u8; 31]),
            ("long hex", "ab".repeat(33).into_bytes()),
            ("not hex", "zz".repeat(32).into_bytes()),
            ("signed hex", "+f".repeat(32).into_bytes()),
            (
                "base64 of 31 bytes",
                URL_SAFE_NO_PAD.encode([1u8; 31]).into_bytes(),
            ),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, contents).expect("write");
            assert!(
                AesSecretBox::from_key_file(Some(&path), dir.path()).is_err(),
                "{name}"
            );
        }
        assert!(
            AesSecretBox::from_key_file(Some(&dir.path().join("missing")), dir.path()).is_err()
        );
    }
}
