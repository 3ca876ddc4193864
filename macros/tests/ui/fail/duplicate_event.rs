struct H;

#[iostack::hooks(state = ())]
impl H {
    #[event("x", ns = "/chat")]
    async fn a(&self) {}

    #[event("x", ns = "/chat")]
    async fn b(&self) {}
}

fn main() {}
