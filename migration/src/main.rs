//! `cargo run -p migration -- up | down | refresh | status` against `DATABASE_URL`
//! (default: the embedded SQLite file `./data/seatrush.db`, as the server uses).

use migration::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::Database;

const USAGE: &str = "usage: migration <up|down|refresh|status>  (DATABASE_URL, default sqlite://./data/seatrush.db?mode=rwc)";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let command = std::env::args().nth(1).unwrap_or_else(|| "up".to_owned());
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        let _ = std::fs::create_dir_all("data");
        "sqlite://./data/seatrush.db?mode=rwc".to_owned()
    });
    let result = async {
        let db = Database::connect(&url).await?;
        match command.as_str() {
            "up" => Migrator::up(&db, None).await,
            "down" => Migrator::down(&db, Some(1)).await,
            "refresh" => Migrator::refresh(&db).await,
            "status" => {
                for migration in Migrator::get_applied_migrations(&db).await? {
                    println!("applied  {}", migration.name());
                }
                for migration in Migrator::get_pending_migrations(&db).await? {
                    println!("pending  {}", migration.name());
                }
                Ok(())
            }
            _ => Err(sea_orm_migration::DbErr::Custom(USAGE.to_owned())),
        }
    }
    .await;
    match result {
        Ok(()) => {
            println!("migration {command}: done");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("migration {command} failed: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
