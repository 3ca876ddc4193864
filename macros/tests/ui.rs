//! Compile-time behaviour of `#[hooks]`: what compiles, and the error of every misuse.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
