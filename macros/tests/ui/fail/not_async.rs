struct H;

#[iostack::hooks(state = ())]
impl H {
    #[event("x")]
    fn x(&self) {}
}

fn main() {}
