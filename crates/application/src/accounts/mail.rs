//! The emails of the `accounts` context.

use auth_domain::{Email, EmailMessage};

use crate::shared::mail::{Part, compose};

/// The message asking a new user to confirm their address.
pub(crate) fn verification_email(
    product: &str,
    to: &Email,
    link: &str,
    token: &str,
    valid_hours: u64,
) -> EmailMessage {
    compose(
        to,
        format!("Verify your email address for {product}"),
        &[
            Part::Text(format!("Welcome to {product}!")),
            Part::Text("Please confirm your email address by opening this link:".to_owned()),
            Part::Link {
                url: link.to_owned(),
                label: "Verify my email",
            },
            Part::Code(token.to_owned()),
            Part::Text(format!(
                "The link expires in {valid_hours} hours. If you did not create an account, ignore this message."
            )),
        ],
    )
}

/// The message carrying a password-reset link.
pub(crate) fn reset_email(
    product: &str,
    to: &Email,
    link: &str,
    token: &str,
    valid_minutes: u64,
) -> EmailMessage {
    compose(
        to,
        format!("Reset your {product} password"),
        &[
            Part::Text(format!(
                "Someone asked to reset the password of your {product} account."
            )),
            Part::Text("To choose a new password, open this link:".to_owned()),
            Part::Link {
                url: link.to_owned(),
                label: "Reset my password",
            },
            Part::Code(token.to_owned()),
            Part::Text(format!(
                "The link expires in {valid_minutes} minutes and works once. If you did not ask for it, ignore this message: your password stays as it is."
            )),
        ],
    )
}

/// The notice that the password changed (by a reset).
pub(crate) fn password_changed_email(product: &str, to: &Email) -> EmailMessage {
    compose(
        to,
        format!("Your {product} password was changed"),
        &[
            Part::Text(format!(
                "The password of your {product} account was just changed, and every device was signed out."
            )),
            Part::Text(
                "If this was not you, reset your password at once and contact support.".to_owned(),
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_parts_carry_the_link_and_html_is_escaped() {
        let to = Email::parse("a@example.com").expect("valid");
        let mail = reset_email("<Acme>", &to, "https://x/r?token=abc&x=1", "abc", 60);
        assert!(mail.text_body.contains("https://x/r?token=abc&x=1"));
        assert!(mail.html_body.contains("https://x/r?token=abc&amp;x=1"));
        assert!(mail.html_body.contains("&lt;Acme&gt;") && !mail.html_body.contains("<Acme>"));
        assert!(mail.subject.contains("<Acme>"), "subjects are not HTML");
    }
}
