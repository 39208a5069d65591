//! Users and sessions.

use super::entities::{sessions, users};
use super::{SqlStore, is_unique_violation, placeholder, store_error};
use crate::domain::{Email, SessionId, TokenHash, UnixMillis, UserId};
use crate::ports::{AccountStore, NewSession, SessionRecord, StoreResult, UserRecord, UserStatus};
use async_trait::async_trait;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement,
    TransactionTrait, sea_query::Expr,
};

const ACTIVE: &str = "active";
const DELETED: &str = "deleted";

fn user_status(stored: &str) -> UserStatus {
    if stored == ACTIVE {
        UserStatus::Active
    } else {
        UserStatus::Deleted
    }
}

#[async_trait]
impl AccountStore for SqlStore {
    #[tracing::instrument(name = "INSERT users", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "INSERT", db.collection.name = "users"))]
    async fn create_user(
        &self,
        id: UserId,
        email: &Email,
        password_hash: &str,
        now: UnixMillis,
    ) -> StoreResult<bool> {
        let user = users::ActiveModel {
            id: Set(id.as_uuid()),
            email: Set(email.as_str().to_owned()),
            password_hash: Set(password_hash.to_owned()),
            status: Set(ACTIVE.to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
        };
        match users::Entity::insert(user)
            .exec_without_returning(&self.db)
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if is_unique_violation(&err) => Ok(false),
            Err(err) => Err(store_error(err)),
        }
    }

    #[tracing::instrument(name = "SELECT users", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "SELECT", db.collection.name = "users"))]
    async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>> {
        let user = users::Entity::find()
            .filter(users::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(user.map(|u| UserRecord {
            id: UserId::from_uuid(u.id),
            password_hash: u.password_hash,
            status: user_status(&u.status),
        }))
    }

    #[tracing::instrument(name = "INSERT sessions", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "INSERT", db.collection.name = "sessions"))]
    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        let row = sessions::ActiveModel {
            id: Set(session.id.as_uuid()),
            user_id: Set(session.user_id.as_uuid()),
            token_hash: Set(session.token_hash.as_str().to_owned()),
            ip: Set(session.ip.clone()),
            user_agent: Set(session.user_agent.clone()),
            created_at: Set(session.created_at),
            expires_at: Set(session.expires_at),
            revoked_at: Set(None),
        };
        sessions::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    #[tracing::instrument(name = "SELECT sessions", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "SELECT", db.collection.name = "sessions"))]
    async fn find_session(&self, token_hash: &TokenHash) -> StoreResult<Option<SessionRecord>> {
        let backend = self.backend();
        let sql = format!(
            "SELECT s.id, s.user_id, s.expires_at, s.revoked_at, u.status \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = {}",
            placeholder(backend, 1)
        );
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [token_hash.as_str().into()],
            ))
            .await
            .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        let read = || -> Result<SessionRecord, sea_orm::DbErr> {
            let revoked_at: Option<i64> = row.try_get_by_index(3)?;
            let status: String = row.try_get_by_index(4)?;
            Ok(SessionRecord {
                id: SessionId::from_uuid(row.try_get_by_index(0)?),
                user_id: UserId::from_uuid(row.try_get_by_index(1)?),
                expires_at: row.try_get_by_index(2)?,
                revoked: revoked_at.is_some(),
                user_status: user_status(&status),
            })
        };
        read().map(Some).map_err(store_error)
    }

    #[tracing::instrument(name = "UPDATE sessions", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "UPDATE", db.collection.name = "sessions"))]
    async fn revoke_session(&self, id: SessionId, now: UnixMillis) -> StoreResult<()> {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(now))
            .filter(sessions::Column::Id.eq(id.as_uuid()))
            .filter(sessions::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    #[tracing::instrument(name = "UPDATE users", target = "seatrush::client", level = "debug", skip_all, fields(otel.kind = "client", db.system.name = self.system(), db.operation.name = "UPDATE", db.collection.name = "users"))]
    async fn delete_user(&self, id: UserId, now: UnixMillis) -> StoreResult<()> {
        let txn = self.db.begin().await.map_err(store_error)?;
        users::Entity::update_many()
            .col_expr(users::Column::Status, Expr::value(DELETED))
            .col_expr(users::Column::UpdatedAt, Expr::value(now))
            .filter(users::Column::Id.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(now))
            .filter(sessions::Column::UserId.eq(id.as_uuid()))
            .filter(sessions::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await.map_err(store_error)
    }
}
