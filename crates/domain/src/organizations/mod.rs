//! The `organizations` context: tenants, their members with an
//! organization role, and invitations by email. Every organization-scoped
//! read or write names its [`OrganizationId`]; a caller who is not a member
//! sees an organization exactly as an unknown one.

mod ports;

pub use ports::{
    AddMember, Invitation, InvitationRepository, InvitationStatus, InviteOutcome, MemberChange,
    MemberPage, MemberRow, Membership, NewOrganization, OrgWriteError, Organization,
    OrganizationRepository,
};

use crate::access::OrgRole;

/// The only tier of v1.
pub const BASIC_TIER: &str = "basic";

/// Longest organization name.
pub const MAX_NAME: usize = 128;

/// Largest settings object, as JSON text.
pub const MAX_SETTINGS: usize = 16 * 1024;

/// A slug: 3 to 48 of `a-z 0-9 -`, starting and ending with a letter or a
/// digit, no `--`.
#[must_use]
pub fn valid_slug(slug: &str) -> bool {
    (3..=48).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
}

/// A slug made from a name: lower case, runs of anything else as one `-`,
/// trimmed; padded with `org` when too short.
#[must_use]
pub fn slug_from(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let mut slug = slug.trim_end_matches('-').to_owned();
    slug.truncate(48);
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.len() < 3 {
        format!("{}{}org", slug, if slug.is_empty() { "" } else { "-" })
    } else {
        slug
    }
}

/// Whether `actor` (with role `actor_role`) may give or take `role`: only an
/// owner grants or takes `owner`.
#[must_use]
pub fn may_set_role(actor_role: OrgRole, from: Option<OrgRole>, to: OrgRole) -> bool {
    actor_role == OrgRole::Owner || (to != OrgRole::Owner && from != Some(OrgRole::Owner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for good in ["acme", "acme-corp", "a1b", "x-y-z"] {
            assert!(valid_slug(good), "{good}");
        }
        for bad in ["ab", "Acme", "-acme", "acme-", "ac--me", "ac me", "ac_me"] {
            assert!(!valid_slug(bad), "{bad}");
        }
        assert_eq!(slug_from("Acme Corp!"), "acme-corp");
        assert_eq!(slug_from("  Ünïcode  Co "), "n-code-co");
        assert_eq!(slug_from("A"), "a-org");
        assert_eq!(slug_from("!!"), "org");
        assert!(valid_slug(&slug_from(&"long name ".repeat(20))));
    }

    #[test]
    fn only_owners_touch_owners() {
        use OrgRole::{Admin, Member, Owner};
        assert!(may_set_role(Owner, Some(Member), Owner));
        assert!(may_set_role(Owner, Some(Owner), Member));
        assert!(may_set_role(Admin, Some(Member), Admin));
        assert!(!may_set_role(Admin, Some(Member), Owner));
        assert!(!may_set_role(Admin, Some(Owner), Member));
        assert!(may_set_role(Admin, None, Member));
    }
}
