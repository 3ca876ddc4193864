struct H;

#[iostack::hooks(state = ())]
impl H {
    #[event("x")]
    async fn x() {}
}

fn main() {}
