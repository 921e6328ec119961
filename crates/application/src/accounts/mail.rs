//! The emails of the `accounts` context. Plain text and HTML with the same
//! content.

use auth_domain::{Email, EmailMessage};

/// The message asking a new user to confirm their address.
pub(crate) fn verification_email(
    to: &Email,
    link: &str,
    token: &str,
    valid_hours: u64,
) -> EmailMessage {
    let text_body = format!(
        "Welcome!\r\n\r\nPlease confirm your email address by opening this link:\r\n\r\n{link}\r\n\r\n\
         Or submit this code: {token}\r\n\r\nThe link expires in {valid_hours} hours. \
         If you did not create an account, ignore this message.\r\n"
    );
    let html_body = format!(
        "<!doctype html><html><body>\
         <p>Welcome!</p>\
         <p>Please confirm your email address:</p>\
         <p><a href=\"{link}\">Verify my email</a></p>\
         <p>Or submit this code: <code>{token}</code></p>\
         <p>The link expires in {valid_hours} hours. If you did not create an account, ignore this message.</p>\
         </body></html>"
    );
    EmailMessage {
        to: to.clone(),
        subject: "Verify your email address".to_owned(),
        text_body,
        html_body,
    }
}
