//! The authorization decision of API-ACCESS.md, as a pure function over what
//! the caller looked up: the subject's state and roles, the role-permission
//! maps, and — when an organization is named — the subject's membership.
//!
//! (1) a suspended, unknown or inactive subject is denied; (2) a global role
//! that grants the permission allows it; (3) with an organization, the
//! subject must be a member, the resource must belong to that organization,
//! and the organization role must grant it.

use std::collections::{BTreeMap, BTreeSet};

use super::{Grant, Permission, Role, RoleRecord};
use crate::OrganizationId;

/// The organization permissions (fixed in v1).
pub const ORG_PERMISSIONS: [&str; 7] = [
    "org:read",
    "org:update",
    "members:read",
    "members:invite",
    "members:remove",
    "members:update_role",
    "org:delete",
];

/// A role inside one organization (fixed in v1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrgRole {
    /// Every organization permission.
    Owner,
    /// Reads, updates, and manages members.
    Admin,
    /// Reads.
    Member,
}

impl OrgRole {
    /// The stable name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// Parses a stored or requested name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "owner" => Some(Self::Owner),
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }

    /// Whether this role grants `permission` inside its organization.
    #[must_use]
    pub fn allows(self, permission: &Permission) -> bool {
        match self {
            Self::Owner => matches!(permission.resource(), "org" | "members"),
            Self::Admin => matches!(
                permission.as_str(),
                "org:read"
                    | "org:update"
                    | "members:read"
                    | "members:invite"
                    | "members:remove"
                    | "members:update_role"
            ),
            Self::Member => matches!(permission.as_str(), "org:read" | "members:read"),
        }
    }
}

/// Why a decision went the way it did (`reason` of the answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// This role grants it (`granted:<role>`).
    Granted(String),
    /// No role of the subject grants it.
    NoPermission,
    /// An organization was named and the subject is not a member.
    NotMember,
    /// The subject's account is suspended.
    AccountSuspended,
    /// The token named as the subject is not active.
    TokenInactive,
    /// No such user.
    UnknownSubject,
    /// No such permission.
    UnknownPermission,
    /// The resource belongs to another organization.
    OrgMismatch,
}

impl Reason {
    /// The `reason` string of the answer.
    #[must_use]
    pub fn to_text(&self) -> String {
        match self {
            Self::Granted(role) => format!("granted:{role}"),
            Self::NoPermission => "no_permission".into(),
            Self::NotMember => "not_member".into(),
            Self::AccountSuspended => "account_suspended".into(),
            Self::TokenInactive => "token_inactive".into(),
            Self::UnknownSubject => "unknown_subject".into(),
            Self::UnknownPermission => "unknown_permission".into(),
            Self::OrgMismatch => "org_mismatch".into(),
        }
    }
}

/// An answer: allowed or not, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the subject may.
    pub allowed: bool,
    /// Why.
    pub reason: Reason,
}

impl Decision {
    fn deny(reason: Reason) -> Self {
        Self {
            allowed: false,
            reason,
        }
    }

    fn allow(role: &str) -> Self {
        Self {
            allowed: true,
            reason: Reason::Granted(role.to_owned()),
        }
    }
}

/// Who is asked about, as looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// An active account and its global roles.
    Active(Vec<Role>),
    /// A suspended account.
    Suspended,
    /// No such account.
    Unknown,
    /// A token that is not (or no longer) valid.
    TokenInactive,
}

/// The organization a question names, with the subject's membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgScope {
    /// The organization asked about.
    pub organization_id: OrganizationId,
    /// The organization the resource belongs to, when the caller said.
    pub resource_organization_id: Option<OrganizationId>,
    /// The subject's role there; `None` when not a member.
    pub membership: Option<OrgRole>,
}

/// The role-permission maps and the known permissions, held in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleCatalog {
    roles: BTreeMap<String, Vec<Grant>>,
    known: BTreeSet<String>,
}

impl RoleCatalog {
    /// The maps of `roles`, knowing `permissions` (the global ones; the
    /// organization permissions are always known).
    #[must_use]
    pub fn new(
        roles: impl IntoIterator<Item = RoleRecord>,
        permissions: impl IntoIterator<Item = String>,
    ) -> Self {
        Self {
            roles: roles
                .into_iter()
                .map(|role| (role.name.as_str().to_owned(), role.grants))
                .collect(),
            known: permissions
                .into_iter()
                .chain(ORG_PERMISSIONS.iter().map(|p| (*p).to_owned()))
                .collect(),
        }
    }

    /// Whether `permission` exists.
    #[must_use]
    pub fn is_known(&self, permission: &Permission) -> bool {
        self.known.contains(permission.as_str())
    }

    /// Whether a grant names only known permissions (wildcards name known
    /// resources).
    #[must_use]
    pub fn grant_is_known(&self, grant: &Grant) -> bool {
        match grant {
            Grant::All => true,
            Grant::Resource(resource) => self
                .known
                .iter()
                .any(|p| p.split_once(':').is_some_and(|(r, _)| r == resource)),
            Grant::One(one) => self.is_known(one),
        }
    }

    /// The first of `roles` (by name) that grants `permission`. Organization
    /// permissions are granted globally only by `*` or `orgs:*`.
    #[must_use]
    pub fn granting_role<'a>(
        &self,
        roles: &'a [Role],
        permission: &Permission,
    ) -> Option<&'a Role> {
        let org_scoped = matches!(permission.resource(), "org" | "members");
        roles.iter().find(|role| {
            self.roles.get(role.as_str()).is_some_and(|grants| {
                grants.iter().any(|grant| {
                    if org_scoped {
                        *grant == Grant::All || *grant == Grant::Resource("orgs".into())
                    } else {
                        grant.allows(permission)
                    }
                })
            })
        })
    }

    /// The effective permissions of `roles`: every grant, as text, sorted.
    #[must_use]
    pub fn effective(&self, roles: &[Role]) -> Vec<String> {
        let set: BTreeSet<String> = roles
            .iter()
            .filter_map(|role| self.roles.get(role.as_str()))
            .flatten()
            .map(Grant::to_text)
            .collect();
        set.into_iter().collect()
    }
}

/// Decides whether `subject` may do `permission`.
#[must_use]
pub fn decide(
    catalog: &RoleCatalog,
    subject: &Subject,
    permission: &Permission,
    org: Option<&OrgScope>,
) -> Decision {
    let roles = match subject {
        Subject::Active(roles) => roles,
        Subject::Suspended => return Decision::deny(Reason::AccountSuspended),
        Subject::Unknown => return Decision::deny(Reason::UnknownSubject),
        Subject::TokenInactive => return Decision::deny(Reason::TokenInactive),
    };
    if !catalog.is_known(permission) {
        return Decision::deny(Reason::UnknownPermission);
    }
    if let Some(role) = catalog.granting_role(roles, permission) {
        return Decision::allow(role.as_str());
    }
    let Some(org) = org else {
        return Decision::deny(Reason::NoPermission);
    };
    let Some(membership) = org.membership else {
        return Decision::deny(Reason::NotMember);
    };
    if org
        .resource_organization_id
        .is_some_and(|resource| resource != org.organization_id)
    {
        return Decision::deny(Reason::OrgMismatch);
    }
    if membership.allows(permission) {
        Decision::allow(membership.as_str())
    } else {
        Decision::deny(Reason::NoPermission)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RoleId;
    use crate::access::parse_grants;

    fn record(name: &str, grants: &[&str]) -> RoleRecord {
        RoleRecord {
            id: RoleId::generate(),
            name: Role::new(name),
            description: String::new(),
            grants: parse_grants(grants).unwrap(),
            system: false,
        }
    }

    fn catalog() -> RoleCatalog {
        RoleCatalog::new(
            [
                record("admin", &["*"]),
                record("manager", &["users:read", "orgs:read"]),
                record("support", &["users:*"]),
                record("user", &["profile:read"]),
            ],
            [
                "users:read",
                "users:write",
                "profile:read",
                "roles:write",
                "orgs:read",
            ]
            .map(String::from),
        )
    }

    fn p(text: &str) -> Permission {
        Permission::parse(text).unwrap()
    }

    fn active(roles: &[&str]) -> Subject {
        Subject::Active(roles.iter().map(|r| Role::new(*r)).collect())
    }

    fn reason(decision: &Decision) -> String {
        decision.reason.to_text()
    }

    #[test]
    fn a_global_role_grants_by_permission_wildcard_or_resource_wildcard() {
        let c = catalog();
        let d = decide(&c, &active(&["manager", "user"]), &p("users:read"), None);
        assert!(d.allowed);
        assert_eq!(reason(&d), "granted:manager");
        let d = decide(&c, &active(&["admin"]), &p("roles:write"), None);
        assert_eq!((d.allowed, reason(&d)), (true, "granted:admin".into()));
        let d = decide(&c, &active(&["support"]), &p("users:write"), None);
        assert_eq!((d.allowed, reason(&d)), (true, "granted:support".into()));
        let d = decide(&c, &active(&["user"]), &p("users:write"), None);
        assert_eq!((d.allowed, reason(&d)), (false, "no_permission".into()));
    }

    #[test]
    fn unknown_permissions_are_denied_even_to_admins() {
        let d = decide(&catalog(), &active(&["admin"]), &p("nuclear:launch"), None);
        assert_eq!(
            (d.allowed, reason(&d)),
            (false, "unknown_permission".into())
        );
    }

    #[test]
    fn the_subject_is_checked_first() {
        let c = catalog();
        for (subject, why) in [
            (Subject::Suspended, "account_suspended"),
            (Subject::Unknown, "unknown_subject"),
            (Subject::TokenInactive, "token_inactive"),
        ] {
            let d = decide(&c, &subject, &p("nuclear:launch"), None);
            assert_eq!((d.allowed, reason(&d)), (false, why.into()));
        }
    }

    #[test]
    fn organization_roles_grant_only_inside_their_organization() {
        let c = catalog();
        let org = OrganizationId::generate();
        let scope = |membership, resource| OrgScope {
            organization_id: org,
            resource_organization_id: resource,
            membership,
        };
        let user = active(&["user"]);
        let d = decide(&c, &user, &p("org:update"), Some(&scope(None, None)));
        assert_eq!(reason(&d), "not_member");
        let d = decide(
            &c,
            &user,
            &p("org:update"),
            Some(&scope(Some(OrgRole::Admin), None)),
        );
        assert_eq!((d.allowed, reason(&d)), (true, "granted:admin".into()));
        let d = decide(
            &c,
            &user,
            &p("org:update"),
            Some(&scope(Some(OrgRole::Member), None)),
        );
        assert_eq!(reason(&d), "no_permission");
        let other = OrganizationId::generate();
        let d = decide(
            &c,
            &user,
            &p("org:read"),
            Some(&scope(Some(OrgRole::Owner), Some(other))),
        );
        assert_eq!(reason(&d), "org_mismatch");
        let d = decide(&c, &user, &p("org:update"), None);
        assert_eq!(reason(&d), "no_permission", "no organization, no org role");
        // A global role reaches organization data only through * or orgs:*.
        let d = decide(
            &c,
            &active(&["manager"]),
            &p("org:read"),
            Some(&scope(None, None)),
        );
        assert_eq!(reason(&d), "not_member");
        let d = decide(
            &c,
            &active(&["admin"]),
            &p("org:read"),
            Some(&scope(None, None)),
        );
        assert_eq!((d.allowed, reason(&d)), (true, "granted:admin".into()));
    }

    #[test]
    fn effective_permissions_are_the_sorted_union() {
        let c = catalog();
        assert_eq!(
            c.effective(&[Role::new("user"), Role::new("manager"), Role::new("gone")]),
            ["orgs:read", "profile:read", "users:read"]
        );
    }
}
