use iostack::HookError;

struct H;

#[iostack::hooks(state = ())]
impl H {
    async fn init(&self) -> Result<(), HookError> {
        Ok(())
    }
}

fn main() {}
