//! The little DER a client key needs: reading a PKCS#8 envelope open, and writing the PKCS#8
//! (P-384) and PKCS#1 (RSA) structures a private JWK becomes (RFC 5208, RFC 5915, RFC 8017).

/// `id-ecPublicKey` (1.2.840.10045.2.1).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// `secp384r1` (1.3.132.0.34).
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];

/// One DER element: its tag, its content, and what follows it.
fn element(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The `privateKey` octets of a PKCS#8 `PrivateKeyInfo` (an RSA key's PKCS#1 structure).
pub fn pkcs8_private_key(pkcs8: &[u8]) -> Option<&[u8]> {
    let (0x30, body, _) = element(pkcs8)? else {
        return None;
    };
    let (0x02, _, rest) = element(body)? else {
        return None;
    };
    let (0x30, _, rest) = element(rest)? else {
        return None;
    };
    let (0x04, key, _) = element(rest)? else {
        return None;
    };
    Some(key)
}

/// The private scalar `d` of a P-384 PKCS#8 key (ring's layout: ECPrivateKey without
/// parameters).
#[cfg(test)]
pub fn p384_scalar(pkcs8: &[u8]) -> Option<&[u8]> {
    let inner = pkcs8_private_key(pkcs8)?;
    let (0x30, body, _) = element(inner)? else {
        return None;
    };
    let (0x02, _, rest) = element(body)? else {
        return None;
    };
    let (0x04, d, _) = element(rest)? else {
        return None;
    };
    Some(d)
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A non-negative INTEGER from big-endian bytes.
fn uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b >= 0x80) {
        content.push(0);
    }
    content.extend(trimmed);
    tlv(0x02, &content)
}

/// A P-384 key as PKCS#8 from its scalar `d` and its uncompressed public point (ring checks
/// the two belong together when it reads it).
pub fn p384_pkcs8(d: &[u8], point: &[u8]) -> Vec<u8> {
    let mut bits = vec![0u8];
    bits.extend_from_slice(point);
    let ec_private = tlv(
        0x30,
        &[tlv(0x02, &[1]), tlv(0x04, d), tlv(0xa1, &tlv(0x03, &bits))].concat(),
    );
    let algorithm = tlv(
        0x30,
        &[tlv(0x06, OID_EC_PUBLIC_KEY), tlv(0x06, OID_P384)].concat(),
    );
    tlv(
        0x30,
        &[tlv(0x02, &[0]), algorithm, tlv(0x04, &ec_private)].concat(),
    )
}

/// An RSA key as PKCS#1 `RSAPrivateKey` from its parts (n, e, d, p, q, dp, dq, qi).
pub fn rsa_pkcs1(parts: &[Vec<u8>; 8]) -> Vec<u8> {
    let mut body = tlv(0x02, &[0]);
    for part in parts {
        body.extend(uint(part));
    }
    tlv(0x30, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_integers() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = tlv(0x04, &[0; 200]);
        assert_eq!(&long[..3], &[0x04, 0x81, 200]);
        assert_eq!(
            element(&long).map(|(t, c, r)| (t, c.len(), r.len())),
            Some((4, 200, 0))
        );
        assert_eq!(uint(&[0, 0x80]), vec![0x02, 2, 0, 0x80]);
        assert_eq!(uint(&[0, 0, 5]), vec![0x02, 1, 5]);
        assert_eq!(element(&[0x30, 5, 1]), None);
    }
}
