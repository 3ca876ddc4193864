//! [`Filter`]: which entries a subscription (or a permission) covers, evaluated on the server.
//!
//! A filter is a JSON object. Each key is a field of the entry (a top-level name, or a dotted path
//! such as `author.id`) mapped to a condition, or one of the combinators `$and` / `$or` mapped to
//! a list of filters. Keys of one object must all hold (`$and`).
//!
//! | condition | holds when the field |
//! |---|---|
//! | `value` (not an object) or `{"$eq": value}` | equals `value` (numbers by value: `1` = `1.0`) |
//! | `{"$ne": value}` | differs from `value` (a missing field is `null`) |
//! | `{"$in": [v, …]}` | equals one of the values |
//! | `{"$lt": x}`, `{"$lte": x}`, `{"$gt": x}`, `{"$gte": x}` | is a number (or string) ordered so against `x`; never for other types |
//!
//! ```
//! use iostack_presence::Filter;
//! use serde_json::json;
//!
//! let f = Filter::parse(&json!({
//!     "status": "published",
//!     "$or": [{ "views": { "$gt": 100 } }, { "tags": { "$in": ["news", "rust"] } }]
//! })).unwrap();
//! assert!(f.matches(&json!({ "status": "published", "views": 150 })));
//! assert!(!f.matches(&json!({ "status": "draft", "views": 150 })));
//! let err = Filter::parse(&json!({ "views": { "$like": 1 } })).unwrap_err();
//! assert_eq!(err.to_string(), "filter.views: unknown operator `$like` (expected $eq, $ne, $in, $lt, $lte, $gt, $gte)");
//! ```
//!
//! Filters come from clients, so they are bounded: at most 8 levels deep, 64 conditions and
//! 256 values in one `$in`.

use std::cmp::Ordering;

use serde_json::Value;

const MAX_DEPTH: usize = 8;
const MAX_CONDITIONS: usize = 64;
const MAX_IN: usize = 256;

/// A parsed filter; [`matches`](Self::matches) tells whether an entry passes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(Node);

#[derive(Debug, Clone, PartialEq)]
enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Field(Vec<String>, Op),
}

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    Cmp(Ordering, bool, Value),
}

/// Why a filter was refused: where (`filter.a.$or[1]`) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct FilterError {
    /// Where in the filter the problem is.
    pub path: String,
    /// What is wrong there.
    pub reason: String,
}

struct Parser {
    conditions: usize,
}

impl Filter {
    /// Parses a filter; the error names the offending place.
    pub fn parse(value: &Value) -> Result<Self, FilterError> {
        Parser { conditions: 0 }
            .object(value, "filter", 0)
            .map(Filter)
    }

    /// A filter every entry passes.
    pub fn everything() -> Self {
        Filter(Node::All(Vec::new()))
    }

    /// Whether `entry` passes the filter.
    pub fn matches(&self, entry: &Value) -> bool {
        self.0.matches(entry)
    }
}

fn fail(path: &str, reason: impl Into<String>) -> FilterError {
    FilterError {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

impl Parser {
    fn object(&mut self, value: &Value, path: &str, depth: usize) -> Result<Node, FilterError> {
        if depth >= MAX_DEPTH {
            return Err(fail(path, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let Value::Object(map) = value else {
            return Err(fail(path, "expected an object"));
        };
        let mut all = Vec::with_capacity(map.len());
        for (key, value) in map {
            let here = format!("{path}.{key}");
            all.push(match key.as_str() {
                "$and" | "$or" => {
                    let Value::Array(items) = value else {
                        return Err(fail(&here, "expected a list of filters"));
                    };
                    let nodes = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| self.object(item, &format!("{here}[{i}]"), depth + 1))
                        .collect::<Result<Vec<_>, _>>()?;
                    if key == "$and" {
                        Node::All(nodes)
                    } else {
                        Node::Any(nodes)
                    }
                }
                k if k.starts_with('$') => {
                    return Err(fail(
                        &here,
                        format!("unknown combinator `{k}` (expected $and, $or)"),
                    ));
                }
                field => {
                    if field.is_empty() || field.split('.').any(str::is_empty) {
                        return Err(fail(&here, "empty field name"));
                    }
                    let path: Vec<String> = field.split('.').map(str::to_owned).collect();
                    self.conditions(&path, value, &here)?
                }
            });
        }
        Ok(Node::All(all))
    }

    fn count(&mut self, path: &str) -> Result<(), FilterError> {
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(fail(path, format!("more than {MAX_CONDITIONS} conditions")));
        }
        Ok(())
    }

    fn conditions(
        &mut self,
        field: &[String],
        value: &Value,
        path: &str,
    ) -> Result<Node, FilterError> {
        let Value::Object(ops) = value else {
            self.count(path)?;
            return Ok(Node::Field(field.to_vec(), Op::Eq(value.clone())));
        };
        if ops.is_empty() {
            return Err(fail(path, "expected at least one operator"));
        }
        let mut all = Vec::with_capacity(ops.len());
        for (op, operand) in ops {
            let here = format!("{path}.{op}");
            self.count(&here)?;
            all.push(Node::Field(
                field.to_vec(),
                operator(op, operand, path, &here)?,
            ));
        }
        Ok(Node::All(all))
    }
}

fn operator(op: &str, operand: &Value, path: &str, here: &str) -> Result<Op, FilterError> {
    let ordered = |ord, or_equal| match operand {
        Value::Number(_) | Value::String(_) => Ok(Op::Cmp(ord, or_equal, operand.clone())),
        _ => Err(fail(here, "expected a number or a string")),
    };
    match op {
        "$eq" => Ok(Op::Eq(operand.clone())),
        "$ne" => Ok(Op::Ne(operand.clone())),
        "$in" => match operand {
            Value::Array(values) if values.len() <= MAX_IN => Ok(Op::In(values.clone())),
            Value::Array(_) => Err(fail(here, format!("more than {MAX_IN} values"))),
            _ => Err(fail(here, "expected a list of values")),
        },
        "$lt" => ordered(Ordering::Less, false),
        "$lte" => ordered(Ordering::Less, true),
        "$gt" => ordered(Ordering::Greater, false),
        "$gte" => ordered(Ordering::Greater, true),
        other => Err(fail(
            path,
            format!("unknown operator `{other}` (expected $eq, $ne, $in, $lt, $lte, $gt, $gte)"),
        )),
    }
}

impl Node {
    fn matches(&self, entry: &Value) -> bool {
        match self {
            Node::All(nodes) => nodes.iter().all(|n| n.matches(entry)),
            Node::Any(nodes) => nodes.iter().any(|n| n.matches(entry)),
            Node::Field(path, op) => {
                let value = lookup(entry, path).unwrap_or(&Value::Null);
                match op {
                    Op::Eq(v) => equal(value, v),
                    Op::Ne(v) => !equal(value, v),
                    Op::In(vs) => vs.iter().any(|v| equal(value, v)),
                    Op::Cmp(ord, or_equal, v) => match compare(value, v) {
                        Some(Ordering::Equal) => *or_equal,
                        Some(o) => o == *ord,
                        None => false,
                    },
                }
            }
        }
    }
}

fn lookup<'a>(entry: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(entry, |v, key| match v {
        Value::Object(map) => map.get(key),
        _ => None,
    })
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
