//! The rules of a logical tensor name.

use super::super::error::FormatError;
use super::types::Network;

/// Checks a logical tensor name; returns its network.
///
/// Rules: `<network>.<rest>` with a known network, `rest` non-empty, at most
/// `max_len` bytes, no control characters, no `::` (reserved for physical
/// part suffixes).
pub fn validate_tensor_name(name: &str, max_len: usize) -> Result<Network, FormatError> {
    let bad = |reason: &str| FormatError::InvalidTensorName { name: name.to_string(), reason: reason.to_string() };
    if name.is_empty() {
        return Err(bad("empty name"));
    }
    if name.len() > max_len {
        return Err(FormatError::InvalidTensorName {
            name: name.chars().take(64).collect::<String>() + "...",
            reason: format!("longer than {max_len} bytes"),
        });
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(bad("contains control characters"));
    }
    if name.contains("::") {
        return Err(bad("`::` is reserved for physical part suffixes"));
    }
    match name.split_once('.') {
        Some((_, rest)) if !rest.is_empty() => {}
        _ => return Err(bad("must look like `<network>.<path>`")),
    }
    Network::of_tensor(name).ok_or_else(|| FormatError::UnknownNetwork { name: name.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let l = 1024;
        assert_eq!(validate_tensor_name("flow.a.weight", l).unwrap(), Network::Flow);
        assert_eq!(validate_tensor_name("latent.x", l).unwrap(), Network::Latent);
        assert!(matches!(validate_tensor_name("flows.a", l), Err(FormatError::UnknownNetwork { .. })));
        assert!(matches!(validate_tensor_name("flow", l), Err(FormatError::InvalidTensorName { .. })));
        assert!(matches!(validate_tensor_name("flow.", l), Err(FormatError::InvalidTensorName { .. })));
        assert!(matches!(validate_tensor_name("flow.a::q", l), Err(FormatError::InvalidTensorName { .. })));
        assert!(matches!(validate_tensor_name("flow.a\n", l), Err(FormatError::InvalidTensorName { .. })));
        assert!(matches!(validate_tensor_name("", l), Err(FormatError::InvalidTensorName { .. })));
        assert!(matches!(
            validate_tensor_name(&format!("flow.{}", "a".repeat(2000)), l),
            Err(FormatError::InvalidTensorName { .. })
        ));
    }
}
