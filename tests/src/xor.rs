//! An independent decoder of Prometheus XOR chunks for the tests, written from the format
//! description, not from the engine's encoder: it reads the stream one bit at a time.

struct Bits<'a> {
    data: &'a [u8],
    bit: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> u64 {
        let b = (self.data[self.bit / 8] >> (7 - self.bit % 8)) & 1;
        self.bit += 1;
        b as u64
    }
    fn bits(&mut self, n: u32) -> u64 {
        (0..n).fold(0, |acc, _| (acc << 1) | self.bit())
    }
    fn uvarint(&mut self) -> u64 {
        let mut v = 0u64;
        for i in 0.. {
            let b = self.bits(8);
            v |= (b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        v
    }
}

/// (timestamp, value bits) of every sample.
pub fn decode(data: &[u8]) -> Vec<(i64, u64)> {
    let n = u16::from_be_bytes([data[0], data[1]]) as usize;
    let mut r = Bits { data: &data[2..], bit: 0 };
    let mut out = Vec::with_capacity(n);
    let (mut t, mut delta, mut v) = (0i64, 0i64, 0u64);
    let (mut lead, mut trail) = (0u32, 0u32);
    for i in 0..n {
        if i == 0 {
            let z = r.uvarint();
            t = ((z >> 1) as i64) ^ -((z & 1) as i64);
            v = r.bits(64);
        } else {
            if i == 1 {
                delta = r.uvarint() as i64;
            } else {
                let dod = if r.bit() == 0 {
                    0
                } else if r.bit() == 0 {
                    sign(r.bits(14), 14)
                } else if r.bit() == 0 {
                    sign(r.bits(17), 17)
                } else if r.bit() == 0 {
                    sign(r.bits(20), 20)
                } else {
                    r.bits(64) as i64
                };
                delta = delta.wrapping_add(dod);
            }
            t = t.wrapping_add(delta);
            if r.bit() == 1 {
                if r.bit() == 1 {
                    lead = r.bits(5) as u32;
                    let mut sig = r.bits(6) as u32;
                    if sig == 0 {
                        sig = 64;
                    }
                    trail = 64 - lead - sig;
                }
                v ^= r.bits(64 - lead - trail) << trail;
            }
        }
        out.push((t, v));
    }
    out
}

fn sign(bits: u64, n: u32) -> i64 {
    if bits > 1 << (n - 1) {
        bits as i64 - (1i64 << n)
    } else {
        bits as i64
    }
}
