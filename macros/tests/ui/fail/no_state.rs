struct H;

#[iostack::hooks]
impl H {
    #[event("x")]
    async fn x(&self) {}
}

fn main() {}
