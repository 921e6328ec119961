//! The checks preferences need that are facts, not formats: a BCP 47
//! language tag, an IANA time zone name.

/// Whether `tag` is a well-formed BCP 47 language tag of the common shape:
/// language (2–3 letters), optional script (4 letters), optional region
/// (2 letters or 3 digits), optional variants (5–8 alphanumerics, or a
/// digit and 3 alphanumerics). `en`, `en-GB`, `zh-Hant-TW`, `de-CH-1996`.
#[must_use]
pub fn valid_locale(tag: &str) -> bool {
    if tag.len() > 35 {
        return false;
    }
    let mut parts = tag.split('-').peekable();
    let Some(language) = parts.next() else {
        return false;
    };
    if !(2..=3).contains(&language.len()) || !language.bytes().all(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    if parts
        .peek()
        .is_some_and(|p| p.len() == 4 && p.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        parts.next();
    }
    if parts.peek().is_some_and(|p| {
        (p.len() == 2 && p.bytes().all(|b| b.is_ascii_alphabetic()))
            || (p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()))
    }) {
        parts.next();
    }
    parts.all(|variant| {
        let alnum = variant.bytes().all(|b| b.is_ascii_alphanumeric());
        alnum
            && ((5..=8).contains(&variant.len())
                || (variant.len() == 4 && variant.as_bytes()[0].is_ascii_digit()))
    })
}

/// The areas of the IANA time zone database.
const AREAS: [&str; 10] = [
    "Africa",
    "America",
    "Antarctica",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
    "Etc",
];

/// Whether `name` has the shape of an IANA time zone name: `UTC`, or an
/// area of the database and one or two locations (`Europe/Paris`,
/// `America/Argentina/Buenos_Aires`, `Etc/GMT+2`).
#[must_use]
pub fn valid_timezone(name: &str) -> bool {
    if name == "UTC" {
        return true;
    }
    let mut parts = name.split('/');
    let area_ok = parts.next().is_some_and(|area| AREAS.contains(&area));
    let rest: Vec<&str> = parts.collect();
    area_ok
        && (1..=2).contains(&rest.len())
        && rest.iter().all(|part| {
            (1..=30).contains(&part.len())
                && part.as_bytes()[0].is_ascii_uppercase()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales() {
        for good in [
            "en",
            "en-GB",
            "zh-Hant-TW",
            "de-CH-1996",
            "sl-rozaj",
            "es-419",
            "fr-CA",
        ] {
            assert!(valid_locale(good), "{good}");
        }
        for bad in ["", "e", "english", "en_GB", "en-", "en-GB-x", "12", "en-G"] {
            assert!(!valid_locale(bad), "{bad}");
        }
    }

    #[test]
    fn timezones() {
        for good in [
            "UTC",
            "Europe/Paris",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+2",
            "America/Port-au-Prince",
        ] {
            assert!(valid_timezone(good), "{good}");
        }
        for bad in [
            "",
            "Paris",
            "Mars/Olympus",
            "Europe/",
            "europe/paris",
            "Europe/Paris/a/b",
        ] {
            assert!(!valid_timezone(bad), "{bad}");
        }
    }
}
