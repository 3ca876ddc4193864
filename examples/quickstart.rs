//! The quick start: an `echo` event with ack, `join` to enter a room, `chat` broadcast to a room.
//!
//! Run with `cargo run --example quickstart` (listens on 127.0.0.1:3000, `PORT` overrides).

use iostack::{
    App,
    extract::{AckSender, Data, SocketRef},
};
use serde::{Deserialize, Serialize};

/// A chat message, as clients send it and as room members receive it.
#[derive(Debug, Deserialize, Serialize)]
struct Chat {
    room: String,
    message: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    iostack::logging::init();

    let app = App::builder(())
        // Replies with what it received.
        .on(
            "echo",
            async |Data(msg): Data<serde_json::Value>, ack: AckSender| {
                let _ = ack.send(&msg);
            },
        )
        // Joins the room named by the first argument and acknowledges with the room's name.
        .on(
            "join",
            async |socket: SocketRef, Data(room): Data<String>, ack: AckSender| {
                socket.join(room.clone());
                let _ = ack.send(&serde_json::json!({ "joined": room }));
            },
        )
        // Sends the message to everyone in the room, the sender included.
        .on("chat", async |socket: SocketRef, Data(chat): Data<Chat>| {
            let from = socket.id.to_string();
            let out =
                serde_json::json!({ "room": chat.room, "message": chat.message, "from": from });
            socket.within(chat.room).emit("chat", &out).await
        })
        .build()
        .await?;

    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = iostack::bind(format!("127.0.0.1:{port}")).await?;
    tracing::info!("quickstart listening on http://{}", listener.local_addr()?);
    app.serve(listener).await?;
    Ok(())
}
