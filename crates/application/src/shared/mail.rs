//! Emails as a list of parts rendered as plain text and as HTML (escaped),
//! so both say the same. Each context writes its own messages with it.

use auth_domain::{Email, EmailMessage};

/// One part of a message.
pub(crate) enum Part {
    /// A paragraph.
    Text(String),
    /// A link with its label (the URL also appears in the text part).
    Link { url: String, label: &'static str },
    /// A code the reader may submit instead of following the link.
    Code(String),
    /// A one-time code to type in, on a line of its own.
    OneTimeCode(String),
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders `parts` into a message to `to`.
pub(crate) fn compose(to: &Email, subject: String, parts: &[Part]) -> EmailMessage {
    let mut text = String::new();
    let mut html = String::from("<!doctype html><html><body>");
    for part in parts {
        match part {
            Part::Text(line) => {
                text.push_str(&format!("{line}\r\n\r\n"));
                html.push_str(&format!("<p>{}</p>", escape(line)));
            }
            Part::Link { url, label } => {
                text.push_str(&format!("{url}\r\n\r\n"));
                html.push_str(&format!("<p><a href=\"{}\">{label}</a></p>", escape(url)));
            }
            Part::Code(code) => {
                text.push_str(&format!("Or submit this code: {code}\r\n\r\n"));
                html.push_str(&format!(
                    "<p>Or submit this code: <code>{}</code></p>",
                    escape(code)
                ));
            }
            Part::OneTimeCode(code) => {
                text.push_str(&format!("    {code}\r\n\r\n"));
                html.push_str(&format!(
                    "<p style=\"font-size:1.5em;letter-spacing:0.2em\"><strong>{}</strong></p>",
                    escape(code)
                ));
            }
        }
    }
    html.push_str("</body></html>");
    EmailMessage {
        to: to.clone(),
        subject,
        text_body: text,
        html_body: html,
    }
}
