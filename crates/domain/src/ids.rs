//! Identifier newtypes. UUID v7 keeps ids time-ordered, so primary-key indexes
//! stay append-mostly and "newest first" is a cheap sort.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered (v7) id.
            #[must_use]
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an id read from storage or from a trusted token.
            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies a user account.
    UserId
);
id_type!(
    /// Identifies one login session (one device).
    SessionId
);
id_type!(
    /// Identifies a second-factor method.
    MethodId
);
id_type!(
    /// Identifies a code sent by email or SMS.
    ChallengeId
);
id_type!(
    /// Identifies a service key.
    ServiceKeyId
);
id_type!(
    /// Identifies an organization (tenant).
    OrganizationId
);
id_type!(
    /// Identifies an invitation to an organization.
    InvitationId
);

id_type!(
    /// Identifies a stored one-time or refresh token record.
    TokenId
);
id_type!(
    /// Identifies an audit event.
    EventId
);
id_type!(
    /// Identifies a message in the outbox.
    MessageId
);
id_type!(
    /// Identifies a role.
    RoleId
);
