struct H;

#[iostack::hooks(state = ())]
impl H {
    #[event("x", room = "a")]
    async fn x(&self) {}
}

fn main() {}
