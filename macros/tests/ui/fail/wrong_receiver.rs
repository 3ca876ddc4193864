struct H;

#[iostack::hooks(state = ())]
impl H {
    #[on_connection]
    async fn x(&mut self) {}
}

fn main() {}
