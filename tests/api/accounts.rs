use crate::both_backends;
use crate::helpers::{Backend, PASSWORD, assert_code, authed, spawn_app, unique_email};
use sea_orm::ConnectionTrait;
use seatrush::proto::v1 as pb;
use tonic::Code;

both_backends!(
    deleting_an_account_gives_its_holds_back,
    a_registered_user_can_log_in_and_out,
    a_taken_email_is_already_exists_whatever_its_case,
    a_wrong_password_or_unknown_email_is_unauthenticated,
    deleting_an_account_revokes_every_session_and_blocks_login,
    sessions_store_ip_and_user_agent_and_only_a_token_hash,
    calls_without_a_valid_token_are_unauthenticated,
);

async fn a_registered_user_can_log_in_and_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = unique_email();
    let registered = app
        .accounts
        .clone()
        .register(pb::RegisterRequest {
            email: email.clone(),
            password: PASSWORD.into(),
        })
        .await
        .expect("register")
        .into_inner();
    let login = app
        .accounts
        .clone()
        .login(pb::LoginRequest {
            email: email.clone(),
            password: PASSWORD.into(),
        })
        .await
        .expect("login")
        .into_inner();
    assert_eq!(login.user_id, registered.user_id);
    assert_eq!(login.session_token.len(), 64);
    assert!(login.expires_at.expect("expiry").seconds > 0);

    app.accounts
        .clone()
        .logout(authed(pb::LogoutRequest {}, &login.session_token))
        .await
        .expect("logout");
    let again = app
        .accounts
        .clone()
        .logout(authed(pb::LogoutRequest {}, &login.session_token))
        .await;
    assert_code(again, Code::Unauthenticated);
    app.teardown().await;
}

async fn a_taken_email_is_already_exists_whatever_its_case(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = unique_email();
    let mut accounts = app.accounts.clone();
    accounts
        .register(pb::RegisterRequest {
            email: email.clone(),
            password: PASSWORD.into(),
        })
        .await
        .expect("first");
    let second = accounts
        .register(pb::RegisterRequest {
            email: email.to_uppercase(),
            password: PASSWORD.into(),
        })
        .await;
    assert_code(second, Code::AlreadyExists);
    app.teardown().await;
}

async fn a_wrong_password_or_unknown_email_is_unauthenticated(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = unique_email();
    let mut accounts = app.accounts.clone();
    accounts
        .register(pb::RegisterRequest {
            email: email.clone(),
            password: PASSWORD.into(),
        })
        .await
        .expect("register");
    let wrong = accounts
        .login(pb::LoginRequest {
            email: email.clone(),
            password: "not the password".into(),
        })
        .await;
    let wrong = assert_code(wrong, Code::Unauthenticated);
    let unknown = accounts
        .login(pb::LoginRequest {
            email: unique_email(),
            password: PASSWORD.into(),
        })
        .await;
    let unknown = assert_code(unknown, Code::Unauthenticated);
    assert_eq!(
        wrong.message(),
        unknown.message(),
        "the two failures must not be distinguishable"
    );
    app.teardown().await;
}

async fn deleting_an_account_revokes_every_session_and_blocks_login(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = unique_email();
    let mut accounts = app.accounts.clone();
    accounts
        .register(pb::RegisterRequest {
            email: email.clone(),
            password: PASSWORD.into(),
        })
        .await
        .expect("register");
    let first = app.login(&email).await;
    let second = app.login(&email).await;
    // Warm the second session's cache entry, so the test also proves deletion clears it.
    accounts
        .logout(authed(pb::LogoutRequest {}, &app.login(&email).await))
        .await
        .expect("third session works");

    accounts
        .delete_account(authed(pb::DeleteAccountRequest {}, &first))
        .await
        .expect("delete");
    for token in [&first, &second] {
        assert_code(
            accounts.logout(authed(pb::LogoutRequest {}, token)).await,
            Code::Unauthenticated,
        );
    }
    let login = accounts
        .login(pb::LoginRequest {
            email,
            password: PASSWORD.into(),
        })
        .await;
    assert_code(login, Code::Unauthenticated);
    app.teardown().await;
}

async fn sessions_store_ip_and_user_agent_and_only_a_token_hash(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.user().await;
    let db = app.storage.connect_db().await;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT token_hash, ip, user_agent FROM sessions",
        ))
        .await
        .expect("query");
    assert_eq!(rows.len(), 1);
    let hash: String = rows[0].try_get_by_index(0).expect("hash");
    let ip: Option<String> = rows[0].try_get_by_index(1).expect("ip");
    let agent: Option<String> = rows[0].try_get_by_index(2).expect("agent");
    assert_ne!(hash, token, "the token itself must never be stored");
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    assert!(
        agent.is_some_and(|a| a.contains("tonic")),
        "the client's user-agent is recorded"
    );
    app.teardown().await;
}

async fn calls_without_a_valid_token_are_unauthenticated(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut accounts = app.accounts.clone();
    assert_code(
        accounts.logout(pb::LogoutRequest {}).await,
        Code::Unauthenticated,
    );
    for token in ["garbage", &"0".repeat(64), &"g".repeat(64)] {
        assert_code(
            accounts.logout(authed(pb::LogoutRequest {}, token)).await,
            Code::Unauthenticated,
        );
    }
    let mut basic = tonic::Request::new(pb::LogoutRequest {});
    basic
        .metadata_mut()
        .insert("authorization", "Basic abc".parse().expect("ascii"));
    assert_code(accounts.logout(basic).await, Code::Unauthenticated);
    app.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_reaches_every_instance_within_one_second() {
    let a = spawn_app(Backend::Distributed).await;
    let b = a.second_instance().await;
    let token = a.user().await;
    // B authenticates the token once, so it is cached there.
    let event = a.event(1, 5).await;
    b.reserve(&token, &event.event_id, &["A1"], 0)
        .await
        .expect("B accepts the session");

    a.accounts
        .clone()
        .logout(authed(pb::LogoutRequest {}, &token))
        .await
        .expect("logout through A");
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert_code(
        b.reserve(&token, &event.event_id, &["A2"], 0).await,
        Code::Unauthenticated,
    );
    b.stop().await;
    a.teardown().await;
}

async fn deleting_an_account_gives_its_holds_back(backend: Backend) {
    use seatrush::proto::v1::SeatStatus;
    let app = spawn_app(backend).await;
    let (first, second) = (app.event(1, 4).await, app.event(1, 4).await);
    let leaving = app.user().await;
    let staying = app.user().await;
    app.reserve(&leaving, &first.event_id, &["A1", "A2"], 0)
        .await
        .expect("hold in the first event");
    app.reserve(&leaving, &second.event_id, &["A3"], 0)
        .await
        .expect("hold in the second event");
    app.reserve(&staying, &first.event_id, &["A4"], 0)
        .await
        .expect("someone else's hold");
    app.accounts
        .clone()
        .delete_account(authed(pb::DeleteAccountRequest {}, &leaving))
        .await
        .expect("delete");
    let map = app.seat_map(&first.event_id).await;
    assert_eq!(map["A1"], SeatStatus::Available);
    assert_eq!(map["A2"], SeatStatus::Available);
    assert_eq!(map["A4"], SeatStatus::Held, "other users keep their holds");
    assert_eq!(
        app.seat_map(&second.event_id).await["A3"],
        SeatStatus::Available
    );
    app.reserve(&staying, &first.event_id, &["A1"], 0)
        .await
        .expect("a freed seat can be held again");
    app.teardown().await;
}
