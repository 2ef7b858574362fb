//! Lenient deserialization helpers for event and task models.
//!
//! VOD documents many members as "may return null", adds members without notice and is not always consistent
//! about numbers vs. numeric strings. These helpers never fail on a member's *value*: `null` or a value of the
//! wrong type becomes `None` (after trying the obvious number ⇄ string coercion), so one odd member never makes a
//! whole event unreadable.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

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

/// Reads any JSON object (for the [`lenient_struct!`] deserializers); anything else is an error, which a
/// lenient parent turns into `None`.
pub(crate) fn object<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    match Value::deserialize(d)? {
        Value::Object(m) => Ok(m),
        other => Err(serde::de::Error::custom(format!(
            "expected a JSON object, got {other}"
        ))),
    }
}

/// The wire name of a snake_case field in `case` (`PascalCase` or `camelCase`); a raw `r#` prefix is dropped.
pub(crate) fn wire_name(case: &str, field: &str) -> String {
    let field = field.strip_prefix("r#").unwrap_or(field);
    let mut out = String::with_capacity(field.len());
    for (i, part) in field.split('_').filter(|p| !p.is_empty()).enumerate() {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            if i == 0 && case == "camelCase" {
                out.push(first);
            } else {
                out.extend(first.to_uppercase());
            }
            out.push_str(chars.as_str());
        }
    }
    out
}

/// Takes member `field` out of `members`: `null` → `None` (dropped); a value that cannot be read as `T` stays in
/// `members` (so it ends up in `extra`, nothing is lost) and gives `None`.
pub(crate) fn take<T: DeserializeOwned>(
    members: &mut Map<String, Value>,
    case: &str,
    field: &str,
) -> Option<T> {
    let key = wire_name(case, field);
    let v = members.remove(&key)?;
    let out = from_value(&v);
    if out.is_none() && !v.is_null() {
        members.insert(key, v);
    }
    out
}

/// Defines a model struct whose members are all lenient `Option`s, plus an `extra` map keeping every member the
/// struct does not name, and every named member whose value could not be read (so nothing is ever lost).
/// `rename_all` gives the wire case (`PascalCase` for API 3.0, `camelCase` for legacy v2). Deserializing fails
/// only when the value is not a JSON object.
macro_rules! lenient_struct {
    (
        $(#[$smeta:meta])*
        rename_all = $case:literal;
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : Option<$ty:ty>, )*
        }
    ) => {
        $(#[$smeta])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
        #[serde(rename_all = $case)]
        #[non_exhaustive]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            /// Members this crate does not model (VOD adds members over time) and members whose value had an
            /// unexpected type, kept verbatim.
            #[serde(flatten)]
            pub extra: serde_json::Map<String, serde_json::Value>,
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[allow(unused_mut)]
                let mut extra = $crate::events::lenient::object(d)?;
                Ok($name {
                    $( $field: $crate::events::lenient::take(&mut extra, $case, stringify!($field)), )*
                    extra,
                })
            }
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

    #[test]
    fn wire_names() {
        assert_eq!(
            wire_name("PascalCase", "ai_analysis_result_set"),
            "AiAnalysisResultSet"
        );
        assert_eq!(wire_name("PascalCase", "r#type"), "Type");
        assert_eq!(wire_name("PascalCase", "md5"), "Md5");
        assert_eq!(wire_name("camelCase", "vod_task_id"), "vodTaskId");
        assert_eq!(wire_name("camelCase", "version"), "version");
    }
}
