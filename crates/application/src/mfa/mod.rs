//! The `mfa` context: setting up and removing second factors, sending codes,
//! confirming a method, step-up, backup codes. The factor check itself is
//! shared with the second step of a login ([`crate::shared::Factors`]).

mod manage;
mod setup;
#[cfg(test)]
mod tests;
mod verify;

use std::future::Future;

use auth_domain::access::RoleRepository;
use auth_domain::accounts::UserRepository;
use auth_domain::mfa::{
    BackupCodeHasher as _, MethodKind, MethodRepository as _, MfaMethod, PendingLoginRepository,
};
use auth_domain::sessions::{AccessTokenIssuer, RevocationList, SessionRepository};
use auth_domain::system::SecureRandom;
use auth_domain::{AccessClaims, ChallengeId, MethodId, RequestContext, Timestamp, UserId};

pub use manage::{MethodsView, NewBackupCodes, RegenerateError, RemoveError};
pub use setup::{ChallengeError, SetupDone, SetupError, SetupRequest, Subject, TotpSetup};
pub use verify::{SessionVerified, VerifyError};

use crate::shared::{FactorAdapters, FactorPorts, Factors, Proof, StepUp};
use crate::{AuthSettings, Failure, Limits, Revoker, SessionIssuer};

/// A code was sent.
#[derive(Clone, Copy, Debug)]
pub struct ChallengeSent {
    /// `challenge_id`.
    pub id: ChallengeId,
    /// Email or SMS.
    pub kind: MethodKind,
    /// Seconds the code stays valid.
    pub expires_in: u64,
}

/// What the HTTP layer may ask of the `mfa` context.
pub trait Mfa: Send + Sync + 'static {
    /// Starts setting a method up (pending until its first code).
    fn setup(
        &self,
        claims: &AccessClaims,
        request: SetupRequest,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<SetupDone, SetupError>> + Send;

    /// The user's methods and backup codes; never a secret.
    fn methods(&self, user: UserId) -> impl Future<Output = Result<MethodsView, Failure>> + Send;

    /// Sends a code for an email or SMS method, for a login's second step
    /// or for the token's session.
    fn challenge(
        &self,
        subject: Subject<'_>,
        method: MethodId,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<ChallengeSent, ChallengeError>> + Send;

    /// With the token's session: confirms a pending method, or steps up with
    /// an active one (or a backup code).
    fn verify(
        &self,
        claims: &AccessClaims,
        proof: Proof,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<SessionVerified, VerifyError>> + Send;

    /// Removes a method (step-up).
    fn remove(
        &self,
        claims: &AccessClaims,
        method: MethodId,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), RemoveError>> + Send;

    /// Replaces the backup codes (step-up).
    fn regenerate_backup_codes(
        &self,
        claims: &AccessClaims,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<NewBackupCodes, RegenerateError>> + Send;
}

/// The ports the `mfa` context uses, on top of those of a factor check.
pub trait MfaPorts: FactorPorts {
    /// User accounts.
    type Users: UserRepository + Clone;
    /// Sessions (confirmation and step-up renew one).
    type Sessions: SessionRepository + Clone;
    /// Role assignments, for tokens.
    type Roles: RoleRepository + Clone;
    /// Access-token signing.
    type Tokens: AccessTokenIssuer + Clone;
    /// Randomness: secrets, codes, refresh tokens.
    type Random: SecureRandom + Clone;
    /// The revocation list.
    type Revocations: RevocationList + Clone;
    /// Logins waiting for their second factor (challenges for them).
    type PendingLogins: PendingLoginRepository + Clone;
}

/// The adapters an [`MfaService`] is built from.
pub struct MfaAdapters<P: MfaPorts> {
    /// User accounts.
    pub users: P::Users,
    /// Sessions.
    pub sessions: P::Sessions,
    /// Role assignments.
    pub roles: P::Roles,
    /// Token signing.
    pub tokens: P::Tokens,
    /// Randomness.
    pub random: P::Random,
    /// The revocation list.
    pub revocations: P::Revocations,
    /// Pending second steps.
    pub pending_logins: P::PendingLogins,
    /// Factors, audit, limits, outbox, time.
    pub factors: FactorAdapters<P>,
}

impl<P: MfaPorts> std::fmt::Debug for MfaAdapters<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaAdapters").finish_non_exhaustive()
    }
}

type Issuer<P> = SessionIssuer<
    <P as MfaPorts>::Sessions,
    <P as MfaPorts>::Roles,
    <P as MfaPorts>::Tokens,
    <P as MfaPorts>::Random,
    <P as FactorPorts>::Clock,
>;

/// The `mfa` use cases.
pub struct MfaService<P: MfaPorts> {
    users: P::Users,
    sessions: P::Sessions,
    methods: P::Methods,
    backup_codes: P::BackupCodes,
    code_hasher: P::CodeHasher,
    secrets: P::Secrets,
    random: P::Random,
    pending_logins: P::PendingLogins,
    factors: Factors<P>,
    issuer: Issuer<P>,
    revoker: Revoker<P::Sessions, P::Revocations, P::Clock>,
    step_up: StepUp<P::Methods, P::Clock>,
    limits: Limits<P::Limiter>,
    clock: P::Clock,
    settings: AuthSettings,
}

impl<P: MfaPorts> std::fmt::Debug for MfaService<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaService").finish_non_exhaustive()
    }
}

impl<P: MfaPorts> MfaService<P> {
    /// Wires the use cases to their adapters.
    #[must_use]
    pub fn new(adapters: MfaAdapters<P>, settings: &AuthSettings) -> Self {
        let MfaAdapters {
            users,
            sessions,
            roles,
            tokens,
            random,
            revocations,
            pending_logins,
            factors,
        } = adapters;
        let clock = factors.clock.clone();
        Self {
            users,
            sessions: sessions.clone(),
            methods: factors.methods.clone(),
            backup_codes: factors.backup_codes.clone(),
            code_hasher: factors.code_hasher.clone(),
            secrets: factors.secrets.clone(),
            random: random.clone(),
            pending_logins,
            issuer: SessionIssuer::new(
                sessions.clone(),
                roles,
                tokens,
                random,
                clock.clone(),
                settings,
            ),
            revoker: Revoker::new(sessions, revocations, clock.clone(), settings),
            step_up: StepUp::new(
                factors.methods.clone(),
                clock.clone(),
                settings.mfa.step_up_max_age,
            ),
            limits: Limits::new(factors.limiter.clone(), settings.limits.clone()),
            factors: Factors::new(factors, settings),
            clock,
            settings: settings.clone(),
        }
    }

    /// `count` fresh backup codes (shown once) and their hashes.
    async fn new_backup_codes(&self) -> Result<(Vec<String>, Vec<String>), Failure> {
        let mut codes = Vec::with_capacity(self.settings.mfa.backup_codes);
        for _ in 0..self.settings.mfa.backup_codes {
            let mut bytes = [0u8; 7];
            self.random.fill(&mut bytes)?;
            codes.push(auth_domain::mfa::backup_code_from_bytes(&bytes));
        }
        let hashes = self.code_hasher.hash_codes(codes.clone()).await?;
        Ok((codes, hashes))
    }

    /// The user's method `id`, if it is theirs.
    async fn own_method(&self, user: UserId, id: MethodId) -> Result<Option<MfaMethod>, Failure> {
        Ok(self.methods.find(id).await?.filter(|m| m.user_id == user))
    }

    fn now(&self) -> Timestamp {
        use auth_domain::system::Clock as _;
        self.clock.now()
    }
}

impl<P: MfaPorts> Mfa for MfaService<P> {
    async fn setup(
        &self,
        claims: &AccessClaims,
        request: SetupRequest,
        ctx: &RequestContext,
    ) -> Result<SetupDone, SetupError> {
        self.start_setup(claims, request, ctx).await
    }

    async fn methods(&self, user: UserId) -> Result<MethodsView, Failure> {
        self.view(user).await
    }

    async fn challenge(
        &self,
        subject: Subject<'_>,
        method: MethodId,
        ctx: &RequestContext,
    ) -> Result<ChallengeSent, ChallengeError> {
        self.send_challenge(subject, method, ctx).await
    }

    async fn verify(
        &self,
        claims: &AccessClaims,
        proof: Proof,
        ctx: &RequestContext,
    ) -> Result<SessionVerified, VerifyError> {
        self.verify_in_session(claims, proof, ctx).await
    }

    async fn remove(
        &self,
        claims: &AccessClaims,
        method: MethodId,
        ctx: &RequestContext,
    ) -> Result<(), RemoveError> {
        self.remove_method(claims, method, ctx).await
    }

    async fn regenerate_backup_codes(
        &self,
        claims: &AccessClaims,
        ctx: &RequestContext,
    ) -> Result<NewBackupCodes, RegenerateError> {
        self.regenerate(claims, ctx).await
    }
}
