use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn parse(v: Value) -> Filter {
    Filter::parse(&v).unwrap()
}

fn error(v: Value) -> String {
    Filter::parse(&v).unwrap_err().to_string()
}

#[test]
fn each_operator_holds_as_documented() {
    let e = json!({ "status": "published", "views": 10, "author": { "id": "7" }, "tags": ["a"] });
    assert!(parse(json!({ "status": "published" })).matches(&e));
    assert!(parse(json!({ "views": { "$eq": 10.0 } })).matches(&e));
    assert!(parse(json!({ "status": { "$ne": "draft" } })).matches(&e));
    assert!(parse(json!({ "missing": { "$ne": 1 } })).matches(&e));
    assert!(parse(json!({ "missing": null })).matches(&e));
    assert!(parse(json!({ "author.id": { "$in": ["6", "7"] } })).matches(&e));
    assert!(parse(json!({ "views": { "$gt": 9, "$lt": 11 } })).matches(&e));
    assert!(parse(json!({ "views": { "$gte": 10, "$lte": 10 } })).matches(&e));
    assert!(!parse(json!({ "views": { "$gt": 10 } })).matches(&e));
    assert!(parse(json!({ "status": { "$gt": "draft" } })).matches(&e));
    assert!(
        !parse(json!({ "status": { "$gt": 1 } })).matches(&e),
        "types differ"
    );
    assert!(parse(json!({ "$or": [{ "views": 1 }, { "views": 10 }] })).matches(&e));
    assert!(!parse(json!({ "$and": [{ "views": 10 }, { "status": "draft" }] })).matches(&e));
    assert!(
        !parse(json!({ "$or": [], "views": 10 })).matches(&e),
        "an empty $or holds for nothing"
    );
    assert!(parse(json!({})).matches(&e));
    assert!(Filter::everything().matches(&json!(null)));
}

#[test]
fn errors_name_the_place_and_the_problem() {
    assert_eq!(error(json!([1])), "filter: expected an object");
    assert_eq!(
        error(json!({ "$or": {} })),
        "filter.$or: expected a list of filters"
    );
    assert_eq!(
        error(json!({ "$or": [{}, 3] })),
        "filter.$or[1]: expected an object"
    );
    assert_eq!(
        error(json!({ "$not": [] })),
        "filter.$not: unknown combinator `$not` (expected $and, $or)"
    );
    assert_eq!(
        error(json!({ "a": { "$in": 3 } })),
        "filter.a.$in: expected a list of values"
    );
    assert_eq!(
        error(json!({ "a": { "$lt": [] } })),
        "filter.a.$lt: expected a number or a string"
    );
    assert_eq!(
        error(json!({ "a": {} })),
        "filter.a: expected at least one operator"
    );
    assert_eq!(error(json!({ "a..b": 1 })), "filter.a..b: empty field name");
    let mut deep = json!({ "a": 1 });
    for _ in 0..8 {
        deep = json!({ "$and": [deep] });
    }
    assert!(error(deep).ends_with("nested deeper than 8 levels"));
    let many: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("f{i}"), json!(i))).collect();
    assert!(error(Value::Object(many)).ends_with("more than 64 conditions"));
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        "[$a-z.]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("$and".to_string()),
                    Just("$or".to_string()),
                    Just("$eq".to_string()),
                    Just("$ne".to_string()),
                    Just("$in".to_string()),
                    Just("$lt".to_string()),
                    Just("$gte".to_string()),
                    "[$a-z.]{0,5}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_json_parses_or_fails_with_a_located_message(v in any_json(), entry in any_json()) {
        match Filter::parse(&v) {
            Ok(filter) => { let _ = filter.matches(&entry); }
            Err(e) => {
                prop_assert!(e.path.starts_with("filter"));
                prop_assert!(!e.reason.is_empty());
            }
        }
    }

    #[test]
    fn an_in_list_holds_exactly_for_its_members(values in prop::collection::vec(0i64..20, 0..10), x in 0i64..20) {
        let f = Filter::parse(&json!({ "x": { "$in": values.clone() } })).unwrap();
        prop_assert_eq!(f.matches(&json!({ "x": x })), values.contains(&x));
    }
}
