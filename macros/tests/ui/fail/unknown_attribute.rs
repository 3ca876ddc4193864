struct H;

#[iostack::hooks(state = ())]
impl H {
    #[on_connect]
    async fn x(&self) {}
}

fn main() {}
