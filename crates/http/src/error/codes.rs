//! Every problem code of the contract, in one table: code, status, title,
//! default detail, and the `type` URI derived from the code.

/// What the table says of one code.
#[derive(Debug)]
pub struct Spec {
    /// The `code` field.
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// The `title` field.
    pub title: &'static str,
    /// The `detail` field unless the error carries its own.
    pub detail: &'static str,
    /// The `type` field.
    pub type_uri: &'static str,
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $code:literal, $status:literal, $title:literal, $detail:literal;)*) => {
        /// Stable machine-readable error codes of the API contract.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The table row of this code.
            #[must_use]
            pub const fn spec(self) -> &'static Spec {
                match self {
                    $(Self::$variant => &Spec {
                        code: $code,
                        status: $status,
                        title: $title,
                        detail: $detail,
                        type_uri: concat!("https://docs.auth-service.dev/problems/", $code),
                    },)*
                }
            }
        }
    };
}

error_codes! {
    /// Malformed input.
    ValidationFailed => "validation_failed", 422, "Validation failed", "The request is invalid";
    /// The password policy failed.
    WeakPassword => "weak_password", 422, "Weak password", "The password does not meet the password policy";
    /// The email is registered.
    EmailTaken => "email_taken", 409, "Email already registered", "An account with this email already exists";
    /// Unknown email or wrong password.
    InvalidCredentials => "invalid_credentials", 401, "Invalid email or password", "Invalid email or password";
    /// The email is not verified.
    EmailNotVerified => "email_not_verified", 403, "Email not verified", "Please verify your email";
    /// The account may not be used.
    AccountSuspended => "account_suspended", 403, "Account suspended", "This account is suspended";
    /// The client IP is blocked after failed logins.
    TooManyAttempts => "too_many_attempts", 429, "Too many attempts", "Too many attempts. Please try again later";
    /// Any other rate limit.
    RateLimited => "rate_limited", 429, "Too many requests", "Too many requests. Please try again later";
    /// Unknown or used email/reset token.
    TokenInvalid => "token_invalid", 400, "Invalid token", "This link is invalid or has already been used";
    /// Expired email/reset token.
    TokenExpired => "token_expired", 400, "Token expired", "This link has expired. Please request a new one";
    /// Missing or invalid access token.
    Unauthorized => "unauthorized", 401, "Unauthorized", "A valid access token is required";
    /// Unknown, expired or revoked refresh token.
    RefreshTokenInvalid => "refresh_token_invalid", 401, "Invalid refresh token", "The refresh token is invalid or expired";
    /// A rotated-out refresh token was presented.
    RefreshTokenReused => "refresh_token_reused", 401, "Refresh token reused", "The refresh token was already used; its session has been revoked";
    /// Authenticated but not allowed.
    Forbidden => "forbidden", 403, "Forbidden", "You are not allowed to do this";
    /// No such resource (or not yours).
    NotFound => "not_found", 404, "Not found", "The requested resource was not found";
    /// A known path with another method.
    MethodNotAllowed => "method_not_allowed", 405, "Method not allowed", "This method is not allowed on this resource";
    /// The body is over 64 KiB.
    PayloadTooLarge => "payload_too_large", 413, "Payload too large", "The request body is larger than 64 KiB";
    /// The body is not JSON.
    UnsupportedMediaType => "unsupported_media_type", 415, "Unsupported media type", "The request body must be application/json";
    /// Unknown, expired, used or exhausted `mfa_token`.
    MfaTokenInvalid => "mfa_token_invalid", 401, "Invalid MFA token", "The MFA token is invalid or expired. Please log in again";
    /// A wrong or already-used second-factor code.
    MfaCodeInvalid => "mfa_code_invalid", 401, "Invalid code", "Invalid or already used code";
    /// An emailed or texted code past its lifetime.
    MfaCodeExpired => "mfa_code_expired", 401, "Code expired", "This code has expired. Please request a new one";
    /// A duplicate method name, or too many methods.
    MfaMethodExists => "mfa_method_exists", 409, "Method exists", "A method with this name exists, or the maximum number of methods is reached";
    /// Backup codes without an active method.
    MfaNotEnabled => "mfa_not_enabled", 409, "MFA not enabled", "Multi-factor authentication is not enabled";
    /// A system role cannot be deleted, or its permissions changed.
    RoleProtected => "role_protected", 409, "Role protected", "System roles cannot be deleted and the permissions of admin and user cannot change";
    /// The change would leave no admin.
    LastAdmin => "last_admin", 409, "Last admin", "The last admin cannot lose the admin role";
    /// Another role has that name.
    RoleExists => "role_exists", 409, "Role exists", "A role with this name already exists";
    /// Another organization has that slug.
    SlugTaken => "slug_taken", 409, "Slug taken", "An organization with this slug already exists";
    /// The caller owns as many organizations as allowed.
    OrganizationLimitReached => "organization_limit_reached", 409, "Organization limit reached", "You own the maximum number of organizations";
    /// The user is already a member.
    AlreadyMember => "already_member", 409, "Already a member", "This user is already a member of the organization";
    /// Every seat of the organization's tier is taken.
    SeatLimitReached => "seat_limit_reached", 409, "Seat limit reached", "The organization has no free seat";
    /// The change would leave no owner.
    LastOwner => "last_owner", 409, "Last owner", "The last owner cannot leave or lose the owner role";
    /// An invitation accepted by an account with another email.
    InvitationEmailMismatch => "invitation_email_mismatch", 403, "Invitation email mismatch", "This invitation was sent to another email address";
    /// The operation needs a recent (second) factor.
    StepUpRequired => "step_up_required", 401, "Step-up required", "A recent second factor is required";
    /// A dependency is down or the service is shedding load.
    ServiceUnavailable => "service_unavailable", 503, "Service unavailable", "The service is temporarily unavailable. Please try again later";
    /// Anything unexpected.
    Internal => "internal", 500, "Internal server error", "An unexpected error occurred";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_type_uris_follow_them() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let spec = code.spec();
            assert!(seen.insert(spec.code), "{} twice", spec.code);
            assert!(spec.type_uri.ends_with(spec.code));
            assert!((400..600).contains(&spec.status));
        }
    }
}
