//! Step-up (RFC 9470): sensitive operations need a recent proof at the
//! user's level — `aal2` when the user has an active second factor, `aal1`
//! otherwise — within `security.step_up_max_age`.

use std::time::Duration;

use auth_domain::mfa::MethodRepository;
use auth_domain::system::Clock;
use auth_domain::{Aal, AccessClaims};

use crate::Failure;

/// The operation needs a fresher or stronger proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepUpRequired {
    /// The level to prove (`acr_values`).
    pub acr: Aal,
    /// How recent the proof must be (`max_age`).
    pub max_age: Duration,
}

/// Why a step-up check did not pass.
#[derive(Debug, thiserror::Error)]
pub enum StepUpError {
    /// The token's proof is too old or too weak.
    #[error("step-up required")]
    Required(StepUpRequired),
    /// The methods could not be read.
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// Checks access tokens against the step-up rule.
#[derive(Clone, Debug)]
pub struct StepUp<M, C> {
    methods: M,
    clock: C,
    max_age: Duration,
}

impl<M: MethodRepository, C: Clock> StepUp<M, C> {
    /// A check over the user's methods.
    pub fn new(methods: M, clock: C, max_age: Duration) -> Self {
        Self {
            methods,
            clock,
            max_age,
        }
    }

    /// The level the user must prove: `aal2` with an active method.
    ///
    /// # Errors
    /// [`Failure`] when the methods cannot be read.
    pub async fn level_of(&self, claims: &AccessClaims) -> Result<Aal, Failure> {
        let methods = self.methods.list(claims.user_id).await?;
        Ok(if methods.iter().any(|m| m.is_active()) {
            Aal::Aal2
        } else {
            Aal::Aal1
        })
    }

    /// Passes when the token proves the user's level recently enough.
    ///
    /// # Errors
    /// [`StepUpError::Required`] otherwise.
    pub async fn require(&self, claims: &AccessClaims) -> Result<(), StepUpError> {
        let acr = self.level_of(claims).await?;
        if claims
            .assurance
            .satisfies(acr, self.max_age, self.clock.now())
        {
            Ok(())
        } else {
            Err(StepUpError::Required(StepUpRequired {
                acr,
                max_age: self.max_age,
            }))
        }
    }
}
