//! Sign-in tokens are durable once answered: 32 clients ask `authdesk serve` for tokens (so
//! the server commits them in groups, `store/group.rs` in the core), the process is killed
//! with SIGKILL while they are still asking, and every token a client received is then
//! found in the data directory, usable once.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authdesk_core::{Authdesk, KeySource, OpenOptions};
use common::Desk;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answered_sign_in_token_survives_a_sigkill_of_serve() {
    let mut desk = Desk::new();
    let key_file = desk.dir.path().join("vault.key");
    desk.env.push((
        "AUTHDESK_VAULT_KEY_FILE".into(),
        key_file.display().to_string(),
    ));
    let account = desk.create_account("Durable");
    let api_key = desk.run(&["api-key"]).ok().trim().to_string();
    let (mut serve, base) = common::serving(desk.command(&["serve", "--listen", "127.0.0.1:0"]));

    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let http = reqwest::Client::new();
    let clients: Vec<_> = (0..32)
        .map(|c| {
            let (http, answered) = (http.clone(), answered.clone());
            let url = format!("{base}/v1.0/accounts/{account}/signintoken");
            let api_key = api_key.clone();
            tokio::spawn(async move {
                // Until the server is gone: only tokens whose answer arrived whole count.
                let mut n = 0;
                loop {
                    let Ok(r) = http
                        .post(&url)
                        .bearer_auth(&api_key)
                        .json(&serde_json::json!({ "Username": format!("client-{c}-{n}") }))
                        .send()
                        .await
                    else {
                        return;
                    };
                    assert!(r.status().is_success(), "{}", r.status());
                    let Ok(body) = r.json::<serde_json::Value>().await else {
                        return;
                    };
                    let token = body["Token"].as_str().expect("a Token").to_string();
                    answered.lock().unwrap().push(token);
                    n += 1;
                }
            })
        })
        .collect();
    // Kill while every client is still asking.
    let started = Instant::now();
    while answered.lock().unwrap().len() < 1500 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "only {} tokens in 60 s",
            answered.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    serve.kill().unwrap();
    serve.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let tokens = answered.lock().unwrap().clone();
    assert!(tokens.len() >= 1500, "{}", tokens.len());

    // Every answered token is there, and usable once.
    let core = Authdesk::open(OpenOptions {
        data_dir: desk.data_dir(),
        database: None,
        key_source: KeySource::File(key_file.clone()),
        clock: Arc::new(chrono::Utc::now),
    })
    .unwrap();
    let mut lost = 0;
    for token in &tokens {
        match core.consume_sign_in_token(token, &account).unwrap() {
            Ok(username) => assert!(username.starts_with("client-"), "{username}"),
            Err(_) => lost += 1,
        }
    }
    assert_eq!(
        lost,
        0,
        "{lost} of {} answered tokens were lost",
        tokens.len()
    );
    assert!(core
        .consume_sign_in_token(&tokens[0], &account)
        .unwrap()
        .is_err());
}
