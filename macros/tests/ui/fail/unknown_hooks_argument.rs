struct H;

#[iostack::hooks(store = ())]
impl H {}

fn main() {}
