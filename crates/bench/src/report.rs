//! The table on the terminal and `target/bench/latest.json`.

use serde_json::Value;

use crate::service::target_dir;

fn num(results: &Value, key: &str) -> f64 {
    results[key].as_f64().unwrap_or(f64::NAN)
}

/// The targets of the benchmark issue, as `(label, value, passed)`; those
/// whose measurements did not run (`--only`) are left out.
pub fn targets(results: &Value) -> Vec<(String, String, bool)> {
    all_targets(results)
        .into_iter()
        .filter(|(_, value, _)| !value.contains("NaN"))
        .collect()
}

fn all_targets(results: &Value) -> Vec<(String, String, bool)> {
    let login = num(results, "login_per_s") / num(results, "login_limit_per_s");
    let validate = num(results, "validate_rps") / num(results, "hello_rps");
    let me = num(results, "me_rps") / num(results, "hello_rps");
    let p99 = num(results, "validate_p99_ms_under_login_load");
    let authorize = num(results, "authorize_rps") / num(results, "validate_rps");
    let authorize_p99 = num(results, "authorize_in_process_p99_ms");
    let mut rows = vec![
        (
            "login / login limit >= 0.90".into(),
            format!("{login:.2}"),
            login >= 0.90,
        ),
        (
            "validate / hello >= 0.70".into(),
            format!("{validate:.2}"),
            validate >= 0.70,
        ),
        (
            "validate p99 under login load < 10 ms".into(),
            format!("{p99:.1} ms"),
            p99 < 10.0,
        ),
        ("me / hello >= 0.35".into(), format!("{me:.2}"), me >= 0.35),
        (
            "authorize / validate >= 0.80".into(),
            format!("{authorize:.2}"),
            authorize >= 0.80,
        ),
        (
            "authorize in-process p99 < 1 ms".into(),
            format!("<= {authorize_p99} ms"),
            authorize_p99 < 1.0,
        ),
    ];
    if results["backend"] == "postgres" {
        let refresh = num(results, "refresh_per_s");
        rows.push((
            "refresh >= 2000/s on PostgreSQL".into(),
            format!("{refresh:.0}/s"),
            refresh >= 2000.0,
        ));
    } else {
        let rss = num(results, "idle_rss_mb");
        let startup = num(results, "startup_ms");
        rows.push((
            "idle RSS < 30 MB".into(),
            format!("{rss:.1} MB"),
            rss < 30.0,
        ));
        rows.push((
            "startup < 200 ms".into(),
            format!("{startup:.0} ms"),
            startup < 200.0,
        ));
    }
    rows
}

/// Prints the figures and the targets.
pub fn print(results: &Value) {
    let rows: [(&str, &str, &str); 19] = [
        ("backend", "backend", ""),
        ("cores", "cores", ""),
        ("users", "users in the database", ""),
        ("hash_ms", "PBKDF2 hash (600k), median", "ms"),
        (
            "login_limit_per_s",
            "login limit (cores x 1000 / hash_ms)",
            "/s",
        ),
        ("login_per_s", "logins", "/s"),
        ("hello_rps", "bare actix-web {} (ceiling)", "req/s"),
        ("validate_rps", "GET verify-token", "req/s"),
        ("validate_p99_ms", "  its p99", "ms"),
        (
            "validate_p99_ms_under_login_load",
            "  its p99 under login load",
            "ms",
        ),
        ("me_rps", "GET me", "req/s"),
        (
            "authorize_rps",
            "POST authorize (service key, cached)",
            "req/s",
        ),
        ("authorize_p99_ms", "  its p99 over HTTP", "ms"),
        (
            "authorize_in_process_p99_ms",
            "  its p99 in the process (bucket bound)",
            "ms",
        ),
        ("refresh_per_s", "refresh rotations", "/s"),
        ("register_per_s", "registrations", "/s"),
        ("idle_rss_mb", "RSS idle", "MB"),
        ("loaded_rss_mb", "RSS after the run", "MB"),
        ("startup_ms", "start-up to /health 200", "ms"),
    ];
    println!();
    println!("| {:<40} | {:>12} | {:<6} |", "measure", "value", "unit");
    println!("|{:-<42}|{:->14}|{:-<8}|", "", "", "");
    for (key, label, unit) in rows {
        let value = match &results[key] {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_f64() => {
                let v = n.as_f64().unwrap_or(f64::NAN);
                if v >= 100.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            }
            other => other.to_string(),
        };
        println!("| {label:<40} | {value:>12} | {unit:<6} |");
    }
    if let Some(timing) = results["timing"].as_object() {
        println!();
        println!(
            "| {:<40} | {:>12} | {:>12} | {:>10} |",
            "existing vs unknown email (median)", "existing ms", "unknown ms", "diff ms"
        );
        println!("|{:-<42}|{:->14}|{:->14}|{:->12}|", "", "", "", "");
        for (name, t) in timing {
            println!(
                "| {name:<40} | {:>12.3} | {:>12.3} | {:>10.3} |",
                t["existing_median_ms"].as_f64().unwrap_or(f64::NAN),
                t["unknown_median_ms"].as_f64().unwrap_or(f64::NAN),
                t["difference_ms"].as_f64().unwrap_or(f64::NAN),
            );
        }
    }
    println!();
    for (label, value, passed) in targets(results) {
        println!(
            "{} {label:<42} {value}",
            if passed { "PASS" } else { "MISS" }
        );
    }
}

/// Writes `target/bench/latest.json`.
pub fn save(results: &Value) -> anyhow::Result<()> {
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("latest.json");
    std::fs::write(&path, serde_json::to_string_pretty(results)? + "\n")?;
    eprintln!("auth-bench: wrote {}", path.display());
    Ok(())
}
