//! The Admin UI protocol over real Socket.IO clients: login, the first messages, live socket and room
//! events, server stats, the UI's actions; and the UI's files over HTTP.

use std::time::Duration;

use iostack_admin_ui::{AdminAuth, AdminUi, UiFiles, ui_router};
use iostack_core::{
    App, BoxError, ConnectRequest,
    extract::{Data, SocketRef},
};
use iostack_testing::{TestClient, TestError, TestServer};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse";

async fn server() -> TestServer {
    let builder = App::builder(()).on(
        "enter",
        async |socket: SocketRef, Data(room): Data<String>| socket.join(room),
    );
    let auth = AdminAuth::basic("admin", AdminAuth::hash_password(PASSWORD)).unwrap();
    let app = AdminUi::new(auth)
        .server_id("node-a")
        .stats_interval(Duration::from_millis(200))
        .install(builder)
        .build()
        .await
        .unwrap();
    TestServer::start(app).await.unwrap()
}

async fn admin(server: &TestServer, auth: Value) -> Result<TestClient, TestError> {
    TestClient::builder(server.url())
        .namespace("/admin-ui")
        .auth(auth)
        .connect()
        .await
}

/// The next `event` whose first argument satisfies `matches`, skipping the others.
async fn wait_where(
    client: &mut TestClient,
    event: &str,
    matches: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    loop {
        let args = client.wait_for(event).await.unwrap();
        if matches(&args) {
            return args;
        }
    }
}

/// Waits until the admin hears of a socket connecting to `/`; its id.
async fn connected_user_id(admin: &mut TestClient) -> String {
    let args = wait_where(admin, "socket_connected", |a| a[0]["nsp"] == "/").await;
    assert!(args[1].is_string(), "timestamp: {args:?}");
    args[0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn refuses_wrong_or_missing_credentials_with_invalid_credentials() {
    let server = server().await;
    for auth in [
        json!({ "username": "admin", "password": "wrong" }),
        json!({ "username": "root", "password": PASSWORD }),
        json!({}),
        json!({ "sessionId": "made-up" }),
    ] {
        match admin(&server, auth.clone()).await {
            Err(TestError::Refused(message)) => assert_eq!(message, "invalid credentials"),
            Err(e) => panic!("{auth}: {e}"),
            Ok(_) => panic!("{auth}: admitted"),
        }
    }
}

#[tokio::test]
async fn login_sends_session_config_and_all_sockets_and_the_session_logs_in_again() {
    let server = server().await;
    let user = TestClient::connect(&server.url()).await.unwrap();
    let mut ui = admin(
        &server,
        json!({ "username": "admin", "password": PASSWORD }),
    )
    .await
    .unwrap();
    let session = ui.wait_for("session").await.unwrap()[0]
        .as_str()
        .unwrap()
        .to_owned();
    let config = ui.wait_for("config").await.unwrap();
    let features = config[0]["supportedFeatures"].as_array().unwrap();
    for feature in [
        "JOIN",
        "LEAVE",
        "DISCONNECT",
        "MDISCONNECT",
        "AGGREGATED_EVENTS",
    ] {
        assert!(
            features.contains(&json!(feature)),
            "{feature} in {features:?}"
        );
    }
    let all = ui.wait_for("all_sockets").await.unwrap();
    let sockets = all[0].as_array().unwrap();
    let listed = sockets
        .iter()
        .find(|s| s["nsp"] == "/")
        .expect("user listed");
    assert_eq!(listed["transport"], "websocket");
    assert!(listed["handshake"]["headers"].is_object());
    assert!(
        listed["handshake"]["address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1")
    );
    assert!(sockets.iter().any(|s| s["nsp"] == "/admin-ui"));

    let again = admin(&server, json!({ "sessionId": session })).await;
    assert!(again.is_ok(), "session refused: {:?}", again.err());
    user.disconnect().await.unwrap();
}

#[tokio::test]
async fn reports_connections_rooms_stats_and_disconnections_live() {
    let server = server().await;
    let mut ui = admin(
        &server,
        json!({ "username": "admin", "password": PASSWORD }),
    )
    .await
    .unwrap();
    ui.wait_for("all_sockets").await.unwrap();

    let user = TestClient::connect(&server.url()).await.unwrap();
    let id = connected_user_id(&mut ui).await;

    user.emit("enter", "lobby").await.unwrap();
    let joined = wait_where(&mut ui, "room_joined", |a| a[1] == "lobby").await;
    assert_eq!(joined[0], "/");
    assert_eq!(joined[2], id.as_str());

    let stats = wait_where(&mut ui, "server_stats", |a| a[0]["clientsCount"] == 2).await;
    assert_eq!(stats[0]["serverId"], "node-a");
    let namespaces = stats[0]["namespaces"].as_array().unwrap();
    assert!(namespaces.contains(&json!({ "name": "/", "socketsCount": 1 })));
    assert!(stats[0]["aggregatedEvents"].is_array());

    user.disconnect().await.unwrap();
    let gone = wait_where(&mut ui, "socket_disconnected", |a| a[1] == id.as_str()).await;
    assert_eq!(gone[0], "/");
}

#[tokio::test]
async fn ui_actions_join_leave_and_disconnect_one_socket() {
    let server = server().await;
    let mut ui = admin(
        &server,
        json!({ "username": "admin", "password": PASSWORD }),
    )
    .await
    .unwrap();
    ui.wait_for("all_sockets").await.unwrap();
    let mut user = TestClient::connect(&server.url()).await.unwrap();
    let id = connected_user_id(&mut ui).await;

    ui.emit_args("join", vec![json!("/"), json!("vip"), json!(id)])
        .await
        .unwrap();
    wait_where(&mut ui, "room_joined", |a| {
        a[1] == "vip" && a[2] == id.as_str()
    })
    .await;

    ui.emit_args("leave", vec![json!("/"), json!("vip"), json!(id)])
        .await
        .unwrap();
    wait_where(&mut ui, "room_left", |a| {
        a[1] == "vip" && a[2] == id.as_str()
    })
    .await;

    ui.emit_args("_disconnect", vec![json!("/"), json!(false), json!(id)])
        .await
        .unwrap();
    user.wait_for("disconnect").await.unwrap();
    wait_where(&mut ui, "socket_disconnected", |a| a[1] == id.as_str()).await;
}

#[tokio::test]
async fn readonly_offers_no_actions_and_ignores_them() {
    let auth = AdminAuth::disabled();
    let app = AdminUi::new(auth)
        .namespace("ops")
        .readonly(true)
        .install(App::builder(()))
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    let mut ui = TestClient::builder(server.url())
        .namespace("/ops")
        .connect()
        .await
        .unwrap();
    let config = ui.wait_for("config").await.unwrap();
    assert_eq!(
        config[0]["supportedFeatures"],
        json!(["AGGREGATED_EVENTS", "ALL_EVENTS"])
    );
    let mut user = TestClient::connect(&server.url()).await.unwrap();
    let id = connected_user_id(&mut ui).await;
    ui.emit_args("_disconnect", vec![json!("/"), json!(false), json!(id)])
        .await
        .unwrap();
    // The unknown event is answered with an `error` event, and the user stays.
    ui.wait_for("error").await.unwrap();
    assert!(
        user.expect_none("disconnect", Duration::from_millis(300))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn ui_files_are_served_locally_without_cdn_links() {
    let dir = std::env::temp_dir().join(format!("iostack-admin-ui-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("js")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        r#"<html><head><link rel="stylesheet" href="https://cdn.example/x.css"><link href="css/app.css" rel="stylesheet"></head><body><script src="js/app.js"></script></body></html>"#,
    )
    .unwrap();
    std::fs::write(dir.join("js/app.js"), "console.log('ui')").unwrap();
    let app = App::builder(())
        .build()
        .await
        .unwrap()
        .merge(ui_router("/admin-ui", &dir).unwrap());
    let server = TestServer::start(app).await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let redirect = http
        .get(format!("{}/admin-ui", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/admin-ui/");

    let page = http
        .get(format!("{}/admin-ui/", server.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("css/app.css") && !page.contains("cdn.example"),
        "{page}"
    );

    let script = http
        .get(format!("{}/admin-ui/js/app.js", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(script.text().await.unwrap(), "console.log('ui')");

    let missing = http
        .get(format!("{}/admin-ui/js/nope.js", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let outside = http
        .get(format!("{}/admin-ui/..%2F..%2Fetc%2Fpasswd", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 404);

    assert!(ui_router("/x", dir.join("missing")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn icon_font_is_served_locally_in_place_of_the_cdn() {
    let dir = std::env::temp_dir().join(format!("iostack-admin-ui-icons-{}", std::process::id()));
    let (ui, icons) = (dir.join("ui"), dir.join("mdi"));
    std::fs::create_dir_all(&ui).unwrap();
    std::fs::create_dir_all(icons.join("css")).unwrap();
    std::fs::create_dir_all(icons.join("fonts")).unwrap();
    std::fs::write(
        ui.join("index.html"),
        r#"<html><head><link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@mdi/font@latest/css/materialdesignicons.min.css"></head></html>"#,
    )
    .unwrap();
    std::fs::write(icons.join("css/materialdesignicons.min.css"), ".mdi{}").unwrap();
    std::fs::write(icons.join("fonts/icons.woff2"), "font").unwrap();
    assert!(
        UiFiles::new(&ui)
            .icons(dir.join("nope"))
            .router("/ui")
            .is_err(),
        "a missing icon directory is refused at start"
    );
    let app = App::builder(())
        .build()
        .await
        .unwrap()
        .merge(UiFiles::new(&ui).icons(&icons).router("/ui").unwrap());
    let server = TestServer::start(app).await.unwrap();
    let get = async |path: &str| {
        let response = reqwest::get(format!("{}{path}", server.url()))
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    let (_, page) = get("/ui/").await;
    assert!(!page.contains("cdn.jsdelivr.net"), "{page}");
    assert!(
        page.contains(r#"href="mdi/css/materialdesignicons.min.css""#),
        "{page}"
    );
    assert_eq!(
        get("/ui/mdi/css/materialdesignicons.min.css").await,
        (200, ".mdi{}".into())
    );
    assert_eq!(get("/ui/mdi/fonts/icons.woff2").await, (200, "font".into()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn ui_actions_on_a_room_and_emit_reach_its_members() {
    let server = server().await;
    let mut ui = admin(
        &server,
        json!({ "username": "admin", "password": PASSWORD }),
    )
    .await
    .unwrap();
    ui.wait_for("all_sockets").await.unwrap();
    let mut member = TestClient::connect(&server.url()).await.unwrap();
    let member_id = connected_user_id(&mut ui).await;
    let mut other = TestClient::connect(&server.url()).await.unwrap();
    connected_user_id(&mut ui).await;
    member.emit("enter", "team").await.unwrap();
    wait_where(&mut ui, "room_joined", |a| a[1] == "team").await;

    // Everyone in room `team` joins `team-b`: only the member.
    ui.emit_args("join", vec![json!("/"), json!("team-b"), json!("team")])
        .await
        .unwrap();
    let joined = wait_where(&mut ui, "room_joined", |a| a[1] == "team-b").await;
    assert_eq!(joined[2], member_id.as_str());

    ui.emit_args(
        "emit",
        vec![
            json!("/"),
            json!("team-b"),
            json!("notice"),
            json!({ "text": "hi" }),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        member.wait_for("notice").await.unwrap(),
        [json!({ "text": "hi" })]
    );
    assert!(
        other
            .expect_none("notice", Duration::from_millis(300))
            .await
            .is_ok()
    );

    // With no filter, the whole namespace leaves the room.
    ui.emit_args("leave", vec![json!("/"), json!("team-b"), Value::Null])
        .await
        .unwrap();
    wait_where(&mut ui, "room_left", |a| a[1] == "team-b").await;
}

#[tokio::test]
async fn install_with_puts_connect_layers_in_front_of_the_login() {
    let auth = AdminAuth::basic("admin", AdminAuth::hash_password(PASSWORD)).unwrap();
    let refuse_all = tower::filter::FilterLayer::new(|_: ConnectRequest| {
        Err::<ConnectRequest, _>(BoxError::from("IP not whitelisted"))
    });
    let app = AdminUi::new(auth)
        .install_with(App::builder(()), |ns| ns.on_connect(refuse_all))
        .build()
        .await
        .unwrap();
    let server = TestServer::start(app).await.unwrap();
    match admin(
        &server,
        json!({ "username": "admin", "password": PASSWORD }),
    )
    .await
    {
        Err(TestError::Refused(message)) => assert_eq!(message, "IP not whitelisted"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("admitted past the allowlist"),
    }
}
