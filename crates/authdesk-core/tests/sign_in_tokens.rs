//! Sign-in tokens on both backends (SQLite's group commit, PostgreSQL's one statement): a
//! token is stored with its account user, used once, refused for another account, and an
//! unknown account gets no token.

mod support;

use support::account;

#[test]
fn a_token_is_stored_with_its_user_used_once_and_only_for_its_account() {
    let dir = tempfile::tempdir().unwrap();
    let desk = support::desk_with_key_file(dir.path(), std::sync::Arc::new(chrono::Utc::now));
    let (a, b) = (account(&desk, "A"), account(&desk, "B"));

    let token = desk.create_sign_in_token(&a, "alice").unwrap();
    let users: Vec<String> = desk
        .list_account_users(&a)
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(users, vec!["alice".to_string()]);
    assert_eq!(
        desk.consume_sign_in_token(token.token.expose(), &a)
            .unwrap(),
        Ok("alice".to_string())
    );
    assert!(desk
        .consume_sign_in_token(token.token.expose(), &a)
        .unwrap()
        .is_err());

    // Without a user: no account user is made; the token answers the empty name.
    let bare = desk.create_sign_in_token_for(&b, None, None).unwrap();
    assert!(desk.list_account_users(&b).unwrap().is_empty());
    // Another account's token is used up and refused.
    assert!(desk
        .consume_sign_in_token(bare.token.expose(), &a)
        .unwrap()
        .is_err());
    assert!(desk
        .consume_sign_in_token(bare.token.expose(), &b)
        .unwrap()
        .is_err());
    let bare = desk.create_sign_in_token_for(&b, None, None).unwrap();
    assert_eq!(
        desk.consume_sign_in_token(bare.token.expose(), &b).unwrap(),
        Ok(String::new())
    );

    // The same user again: one account user still.
    desk.create_sign_in_token(&a, "alice").unwrap();
    assert_eq!(desk.list_account_users(&a).unwrap().len(), 1);

    let unknown = desk.create_sign_in_token(&uuid::Uuid::new_v4().to_string(), "x");
    assert!(
        matches!(unknown, Err(authdesk_core::Error::NotFound { .. })),
        "{unknown:?}"
    );
}
