//! `migration [up|down|status|fresh] [-n STEPS]`: runs the migrations against
//! `AUTH__DATABASE__URL` (or `DATABASE_URL`), by default the embedded SQLite
//! file `var/auth.db`.

use migration::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::Database;

const USAGE: &str = "usage: migration [up|down|status|fresh] [-n STEPS]\n\
    database: AUTH__DATABASE__URL or DATABASE_URL (default sqlite://var/auth.db?mode=rwc)";

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let command = args.first().map_or("up", String::as_str);
    let steps = match (args.get(1).map(String::as_str), args.get(2)) {
        (None, _) => None,
        (Some("-n"), Some(n)) => Some(
            n.parse::<u32>()
                .map_err(|_| format!("STEPS must be a number\n{USAGE}"))?,
        ),
        _ => return Err(USAGE.to_owned()),
    };
    let url = ["AUTH__DATABASE__URL", "DATABASE_URL"]
        .iter()
        .find_map(|key| std::env::var(key).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "sqlite://var/auth.db?mode=rwc".to_owned());
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .and_then(|rest| rest.split('?').next())
        && let Some(dir) = std::path::Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let db = Database::connect(&url)
        .await
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    let result = match command {
        "up" => Migrator::up(&db, steps).await,
        "down" => Migrator::down(&db, steps.or(Some(1))).await,
        "status" => Migrator::get_migration_with_status(&db)
            .await
            .map(|migrations| {
                for migration in migrations {
                    println!("{:?}\t{}", migration.status(), migration.name());
                }
            }),
        "fresh" => Migrator::fresh(&db).await,
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return Ok(());
        }
        other => return Err(format!("unknown command {other:?}\n{USAGE}")),
    };
    result.map_err(|e| format!("migration {command} failed: {e}"))?;
    if command != "status" {
        println!("migration {command}: done");
    }
    Ok(())
}
