//! The quick start written with `#[iostack::hooks]`: `cargo run --example hooks`
//! (127.0.0.1:3002, `PORT` overrides). Events: `echo` (ack), `join` (ack), `chat` to a room.

use iostack::{
    App, HookError, InitContext,
    extract::{AckSender, Data, DisconnectReason, SocketRef},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, Serialize)]
struct Chat {
    room: String,
    message: String,
}

/// Everything the server does, in one annotated block.
struct Lobby;

#[iostack::hooks]
impl Lobby {
    async fn init(&self, cx: &mut InitContext<()>) -> Result<(), HookError> {
        tracing::info!(adapter = cx.io.adapter_name(), "lobby ready");
        Ok(())
    }

    #[on_connection]
    async fn connected(&self, socket: SocketRef) {
        tracing::info!(socket.id = %socket.id, "connected");
    }

    #[event("echo")]
    async fn echo(&self, Data(msg): Data<serde_json::Value>, ack: AckSender) {
        let _ = ack.send(&msg);
    }

    #[event("join")]
    async fn join(&self, socket: SocketRef, Data(room): Data<String>, ack: AckSender) {
        socket.join(room.clone());
        let _ = ack.send(&serde_json::json!({ "joined": room }));
    }

    #[event("chat")]
    async fn chat(&self, socket: SocketRef, Data(chat): Data<Chat>) -> Result<(), String> {
        let out = serde_json::json!({ "room": chat.room, "message": chat.message, "from": socket.id.to_string() });
        socket
            .within(chat.room)
            .emit("chat", &out)
            .await
            .map_err(|e| e.to_string())
    }

    #[on_disconnect]
    async fn disconnected(&self, socket: SocketRef, reason: DisconnectReason) {
        tracing::info!(socket.id = %socket.id, %reason, "disconnected");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    iostack::logging::init();
    let app = App::builder(()).hooks(Lobby).build().await?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "3002".into());
    let listener = iostack::bind(format!("127.0.0.1:{port}")).await?;
    tracing::info!(
        "hooks example listening on http://{}",
        listener.local_addr()?
    );
    app.serve(listener).await?;
    Ok(())
}
