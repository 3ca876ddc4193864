use iostack::{
    App, HookError, Identity, InitContext, Io,
    extract::{AckSender, Data, DisconnectReason, SocketRef},
};

#[derive(Clone, Default)]
struct AppState;

struct Chat;

#[iostack::hooks]
impl Chat {
    async fn init(&self, _cx: &mut InitContext<AppState>) -> Result<(), HookError> {
        Ok(())
    }

    #[on_connection(ns = "/chat")]
    async fn joined(&self, _socket: SocketRef, _user: Identity) {}

    #[event("join-channel", ns = "/chat")]
    async fn join_channel(&self, _socket: SocketRef, Data(_req): Data<String>, _ack: AckSender) {}

    #[event("fails")]
    async fn fails(&self) -> Result<(), String> {
        Err("nope".into())
    }

    #[on_disconnect]
    async fn left(&self, _socket: SocketRef, _reason: DisconnectReason, _user: Option<Identity>) {}

    #[on_shutdown]
    async fn drain(&self, _io: Io) {}
}

fn main() {
    let _ = App::builder(AppState).hooks(Chat);
}
