//! A cursor over the bytes of a TSDB file section: big-endian fixed-width integers, Go's
//! varints and uvarints, length-prefixed strings, and the CRC32 (Castagnoli) that closes each
//! section. Every read checks the bounds and says what was cut short; nothing here knows the
//! layout of a section.

/// Reads from `bytes` at `pos`.
pub struct Decbuf<'a> {
    bytes: &'a [u8],
    pub pos: usize,
}

impl<'a> Decbuf<'a> {
    pub fn new(bytes: &'a [u8], pos: usize) -> Decbuf<'a> {
        Decbuf { bytes, pos }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or_else(|| format!("cut short at offset {} (wanted {n} bytes)", self.pos))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    pub fn be32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    pub fn be64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    /// Go's `binary.Uvarint`: 7 bits a byte, least significant first.
    pub fn uvarint(&mut self) -> Result<u64, String> {
        let start = self.pos;
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                break;
            }
            value |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(format!("a varint at offset {start} overflows 64 bits"))
    }

    /// Go's `binary.Varint`: a zigzag-encoded uvarint.
    pub fn varint(&mut self) -> Result<i64, String> {
        let u = self.uvarint()?;
        Ok((u >> 1) as i64 ^ -((u & 1) as i64))
    }

    /// A uvarint length, then that many bytes of UTF-8.
    pub fn string(&mut self) -> Result<&'a str, String> {
        let at = self.pos;
        let n = self.uvarint()? as usize;
        std::str::from_utf8(self.take(n)?).map_err(|_| format!("the string at offset {at} is not UTF-8"))
    }
}

/// Checks that the 4 big-endian bytes after `bytes[start..end]` are its CRC32 (Castagnoli).
pub fn check_crc(bytes: &[u8], start: usize, end: usize) -> Result<(), String> {
    let stored = bytes.get(end..end + 4).ok_or_else(|| format!("cut short at offset {end}: no checksum"))?;
    let stored = u32::from_be_bytes(stored.try_into().expect("4 bytes"));
    let computed = crc32c::crc32c(&bytes[start..end]);
    if stored != computed {
        return Err(format!("checksum mismatch over offsets {start}..{end} (stored {stored:08x}, computed {computed:08x})"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_varints_and_big_endian_integers() {
        // Go: binary.AppendUvarint(nil, 300) = [0xac 0x02]; binary.AppendVarint(nil, -3) = [0x05].
        let bytes = [0xac, 0x02, 0x05, 0x00, 0x00, 0x01, 0x02, 0x02, b'a', b'b'];
        let mut d = Decbuf::new(&bytes, 0);
        assert_eq!(d.uvarint(), Ok(300));
        assert_eq!(d.varint(), Ok(-3));
        assert_eq!(d.be32(), Ok(0x0102));
        assert_eq!(d.string(), Ok("ab"));
        assert!(d.is_empty());
        assert!(d.byte().unwrap_err().contains("cut short at offset 10"));
        let overflow = [0xff; 11];
        assert!(Decbuf::new(&overflow, 0).uvarint().unwrap_err().contains("overflows"));
    }

    #[test]
    fn a_checksum_is_castagnoli_big_endian() {
        // CRC-32C of "123456789" is e3069283 (the check value of the Castagnoli polynomial).
        let mut bytes = b"123456789".to_vec();
        bytes.extend_from_slice(&[0xe3, 0x06, 0x92, 0x83]);
        assert_eq!(check_crc(&bytes, 0, 9), Ok(()));
        bytes[0] = b'0';
        assert!(check_crc(&bytes, 0, 9).unwrap_err().contains("checksum mismatch"));
    }
}
