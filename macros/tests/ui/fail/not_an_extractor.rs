struct H;

#[iostack::hooks(state = ())]
impl H {
    #[event("x")]
    async fn x(&self, _name: String) {}
}

fn main() {}
