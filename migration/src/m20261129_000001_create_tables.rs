//! Users, sessions, events, seats and tickets. `tickets.seat_id` is unique: whatever happens above
//! it, the database refuses to sell one seat twice.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    TokenHash,
    Ip,
    UserAgent,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    Name,
    StartsAt,
    SeatCount,
    Layout,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Seats {
    Table,
    Id,
    EventId,
    Row,
    Number,
    RowIndex,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
    SeatId,
    EventId,
    UserId,
    ReservationId,
    CreatedAt,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(Users::Email)
                            .string_len(254)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Users::PasswordHash)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Users::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Users::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Users::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(ColumnDef::new(Sessions::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Sessions::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(Sessions::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Sessions::Ip).string_len(64).null())
                    .col(ColumnDef::new(Sessions::UserAgent).string_len(512).null())
                    .col(ColumnDef::new(Sessions::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::ExpiresAt).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::RevokedAt).big_integer().null())
                    .foreign_key(&mut fk(
                        "fk_sessions_user",
                        (Sessions::Table, Sessions::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(ColumnDef::new(Events::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Events::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Events::StartsAt).big_integer().not_null())
                    .col(ColumnDef::new(Events::SeatCount).integer().not_null())
                    .col(ColumnDef::new(Events::Layout).text().not_null())
                    .col(ColumnDef::new(Events::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_events_starts_at")
                    .table(Events::Table)
                    .col(Events::StartsAt)
                    .col(Events::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Seats::Table)
                    .col(ColumnDef::new(Seats::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Seats::EventId).uuid().not_null())
                    .col(ColumnDef::new(Seats::Row).string_len(4).not_null())
                    .col(ColumnDef::new(Seats::Number).integer().not_null())
                    .col(ColumnDef::new(Seats::RowIndex).integer().not_null())
                    .foreign_key(&mut fk(
                        "fk_seats_event",
                        (Seats::Table, Seats::EventId),
                        (Events::Table, Events::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_seats_event_row_number")
                    .table(Seats::Table)
                    .col(Seats::EventId)
                    .col(Seats::Row)
                    .col(Seats::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Tickets::Table)
                    .col(ColumnDef::new(Tickets::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Tickets::SeatId).uuid().not_null())
                    .col(ColumnDef::new(Tickets::EventId).uuid().not_null())
                    .col(ColumnDef::new(Tickets::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(Tickets::ReservationId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Tickets::CreatedAt).big_integer().not_null())
                    .foreign_key(&mut fk(
                        "fk_tickets_seat",
                        (Tickets::Table, Tickets::SeatId),
                        (Seats::Table, Seats::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_tickets_user",
                        (Tickets::Table, Tickets::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_tickets_seat")
                    .table(Tickets::Table)
                    .col(Tickets::SeatId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tickets_reservation")
                    .table(Tickets::Table)
                    .col(Tickets::ReservationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tickets_event")
                    .table(Tickets::Table)
                    .col(Tickets::EventId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Tickets::Table.into_iden(),
            Seats::Table.into_iden(),
            Events::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
