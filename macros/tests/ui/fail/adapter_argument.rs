struct H;

#[iostack::hooks(state = (), adapter = iostack::AnyAdapter)]
impl H {}

fn main() {}
