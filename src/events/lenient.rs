//! Lenient deserialization helpers for event and task models.
//!
//! VOD documents many members as "may return null", adds members without notice and is not always consistent
//! about numbers vs. numeric strings. These helpers never fail on a member's *value*: `null` or a value of the
//! wrong type becomes `None` (after trying the obvious number ⇄ string coercion), so one odd member never makes a
//! whole event unreadable.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Converts a JSON value into `T`, coercing numbers ⇄ strings and booleans ⇄ strings; `None` when impossible.
pub(crate) fn from_value<T: DeserializeOwned>(v: &Value) -> Option<T> {
    if v.is_null() {
        return None;
    }
    if let Ok(t) = T::deserialize(v) {
        return Some(t);
    }
    let alt = match v {
        Value::String(s) => {
            let s = s.trim();
            match s {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => s.parse::<serde_json::Number>().ok().map(Value::Number),
            }
        }
        Value::Number(n) => Some(Value::String(n.to_string())),
        Value::Bool(b) => Some(Value::String(b.to_string())),
        _ => None,
    };
    let out = alt.and_then(|a| T::deserialize(&a).ok());
    if out.is_none() {
        tracing::debug!(
            expected = std::any::type_name::<T>(),
            "ignoring a member of unexpected type"
        );
    }
    out
}

/// `deserialize_with` for `Option<T>` members: absent, `null` or unusable → `None`.
pub(crate) fn opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(from_value(&v))
}

/// `deserialize_with` for `Vec<T>` members: `null` → empty; elements that cannot be read are skipped.
pub(crate) fn vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(match &v {
        Value::Array(items) => items.iter().filter_map(from_value).collect(),
        Value::Null => Vec::new(),
        other => from_value(other).into_iter().collect(),
    })
}

/// Defines a model struct whose members are all lenient `Option`s, plus an `extra` map keeping every member the
/// struct does not name. `rename_all` gives the wire case (`PascalCase` for API 3.0, `camelCase` for legacy v2).
macro_rules! lenient_struct {
    (
        $(#[$smeta:meta])*
        rename_all = $case:literal;
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : Option<$ty:ty>, )*
        }
    ) => {
        $(#[$smeta])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = $case)]
        #[non_exhaustive]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(
                    default,
                    deserialize_with = "crate::events::lenient::opt",
                    skip_serializing_if = "Option::is_none"
                )]
                pub $field: Option<$ty>,
            )*
            /// Members this crate does not model, kept verbatim (VOD adds members over time).
            #[serde(flatten)]
            pub extra: serde_json::Map<String, serde_json::Value>,
        }
    };
}

pub(crate) use lenient_struct;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coerces_and_tolerates() {
        assert_eq!(from_value::<i64>(&json!("42")), Some(42));
        assert_eq!(from_value::<String>(&json!(42)), Some("42".to_string()));
        assert_eq!(from_value::<f64>(&json!("1.5")), Some(1.5));
        assert_eq!(from_value::<i64>(&json!("x")), None);
        assert_eq!(from_value::<i64>(&json!({"a": 1})), None);
        assert_eq!(from_value::<String>(&json!(null)), None);
        assert_eq!(from_value::<bool>(&json!("true")), Some(true));
    }
}
