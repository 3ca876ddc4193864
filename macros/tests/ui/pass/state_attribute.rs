use iostack::{App, extract::AckSender};

struct Ping;

#[iostack::hooks(state = ())]
impl Ping {
    #[event("ping")]
    async fn ping(&self, ack: AckSender) {
        let _ = ack.send(&"pong");
    }
}

fn main() {
    let _ = App::builder(()).hooks(Ping);
}
