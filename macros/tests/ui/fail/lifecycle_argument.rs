struct H;

#[iostack::hooks(state = ())]
impl H {
    #[on_connection]
    async fn x(&self, _n: u32) {}
}

fn main() {}
