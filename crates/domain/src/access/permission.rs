//! Permissions (`resource:action`) and what roles and keys grant: a
//! permission, every action on a resource (`resource:*`), or everything
//! (`*`).

use std::fmt;

/// Whether `part` is `[a-z][a-z0-9_.]*`.
fn valid_part(part: &str) -> bool {
    let mut bytes = part.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.'))
}

/// Longest permission or grant accepted.
const MAX_LEN: usize = 128;

/// A concrete permission, `resource:action`
/// (`^[a-z][a-z0-9_.]*:[a-z][a-z0-9_.]*$`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission(String);

impl Permission {
    /// Parses a permission; `None` when malformed or a wildcard.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let (resource, action) = text.split_once(':')?;
        (text.len() <= MAX_LEN && valid_part(resource) && valid_part(action))
            .then(|| Self(text.to_owned()))
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The resource part.
    #[must_use]
    pub fn resource(&self) -> &str {
        self.0.split_once(':').map_or("", |(resource, _)| resource)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a role or a service key grants.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grant {
    /// `*`: every permission.
    All,
    /// `resource:*`: every action on one resource.
    Resource(String),
    /// One permission.
    One(Permission),
}

impl Grant {
    /// Parses `*`, `resource:*` or `resource:action`; `None` when malformed.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        if text == "*" {
            return Some(Self::All);
        }
        if let Some(resource) = text.strip_suffix(":*") {
            return (valid_part(resource) && text.len() <= MAX_LEN)
                .then(|| Self::Resource(resource.to_owned()));
        }
        Permission::parse(text).map(Self::One)
    }

    /// Whether this grants `permission`.
    #[must_use]
    pub fn allows(&self, permission: &Permission) -> bool {
        match self {
            Self::All => true,
            Self::Resource(resource) => permission.resource() == resource,
            Self::One(one) => one == permission,
        }
    }

    /// The text form, as stored and shown.
    #[must_use]
    pub fn to_text(&self) -> String {
        match self {
            Self::All => "*".to_owned(),
            Self::Resource(resource) => format!("{resource}:*"),
            Self::One(one) => one.0.clone(),
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// Parses a list of grants, sorted and without duplicates; the first
/// malformed entry is the error.
///
/// # Errors
/// The text of the first entry that is not a grant.
pub fn parse_grants<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Grant>, String> {
    let mut grants = texts
        .iter()
        .map(|t| Grant::parse(t.as_ref()).ok_or_else(|| t.as_ref().to_owned()))
        .collect::<Result<Vec<_>, _>>()?;
    grants.sort_by_key(Grant::to_text);
    grants.dedup();
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Permission {
        Permission::parse(text).expect(text)
    }

    #[test]
    fn permissions_follow_the_pattern() {
        for good in ["users:read", "org:update", "a.b_c:d9", "x:y"] {
            assert!(Permission::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "users",
            ":read",
            "users:",
            "Users:read",
            "users:Read",
            "9a:b",
            "a:b:c",
            "*",
            "users:*",
            "a b:c",
            "a:b ",
        ] {
            assert!(Permission::parse(bad).is_none(), "{bad:?}");
        }
        assert!(Permission::parse(&format!("a:{}", "b".repeat(200))).is_none());
    }

    #[test]
    fn wildcards_grant_what_they_name() {
        let all = Grant::parse("*").unwrap();
        let users = Grant::parse("users:*").unwrap();
        let read = Grant::parse("users:read").unwrap();
        assert!(all.allows(&p("anything:at_all")));
        assert!(users.allows(&p("users:write")));
        assert!(
            !users.allows(&p("usersx:write")),
            "a resource, not a prefix"
        );
        assert!(!users.allows(&p("roles:read")));
        assert!(read.allows(&p("users:read")));
        assert!(!read.allows(&p("users:write")));
        assert!(Grant::parse("*:read").is_none());
        assert!(Grant::parse("users:re*").is_none());
    }

    #[test]
    fn grant_lists_are_sorted_and_deduplicated() {
        let grants = parse_grants(&["users:read", "*", "users:read", "audit:*"]).unwrap();
        let texts: Vec<_> = grants.iter().map(Grant::to_text).collect();
        assert_eq!(texts, ["*", "audit:*", "users:read"]);
        assert_eq!(parse_grants(&["ok:ok", "Bad"]), Err("Bad".to_owned()));
    }
}
