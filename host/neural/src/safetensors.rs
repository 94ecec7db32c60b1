//! A reader of the `safetensors` format (an 8-byte little-endian header length, a JSON
//! header naming each tensor's dtype, shape and byte range, then the data) that reads
//! one tensor at a time, converting it to `f32`: the whole file is never in memory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Largest header accepted (the format's own limit is 100 MB).
const MAX_HEADER: u64 = 100 << 20;

struct Entry {
    dtype: String,
    shape: Vec<usize>,
    begin: u64,
    end: u64,
}

/// An open `.safetensors` file.
pub struct SafeTensors {
    file: File,
    data_start: u64,
    entries: HashMap<String, Entry>,
}

impl SafeTensors {
    /// Opens `path` and parses its header.
    pub fn open(path: &Path) -> Result<Self, String> {
        let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let mut file = File::open(path).map_err(|e| fail(&e))?;
        let total = file.metadata().map_err(|e| fail(&e))?.len();
        let mut len = [0u8; 8];
        file.read_exact(&mut len).map_err(|e| fail(&e))?;
        let header_len = u64::from_le_bytes(len);
        if header_len > MAX_HEADER || header_len + 8 > total {
            return Err(fail(&"not a safetensors file (bad header length)"));
        }
        let mut header = vec![0u8; header_len as usize];
        file.read_exact(&mut header).map_err(|e| fail(&e))?;
        let header: HashMap<String, serde_json::Value> =
            serde_json::from_slice(&header).map_err(|e| fail(&format!("bad header: {e}")))?;
        let data_start = 8 + header_len;
        let data_len = total - data_start;
        let mut entries = HashMap::new();
        for (name, v) in header {
            if name == "__metadata__" {
                continue;
            }
            let bad = || fail(&format!("bad header entry for {name}"));
            let dtype = v
                .get("dtype")
                .and_then(|d| d.as_str())
                .ok_or_else(bad)?
                .to_string();
            let shape = v
                .get("shape")
                .and_then(|s| s.as_array())
                .ok_or_else(bad)?
                .iter()
                .map(|d| d.as_u64().map(|d| d as usize))
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(bad)?;
            let offsets = v
                .get("data_offsets")
                .and_then(|o| o.as_array())
                .filter(|o| o.len() == 2)
                .ok_or_else(bad)?;
            let (begin, end) = match (offsets[0].as_u64(), offsets[1].as_u64()) {
                (Some(b), Some(e)) if b <= e && e <= data_len => (b, e),
                _ => return Err(bad()),
            };
            entries.insert(
                name,
                Entry {
                    dtype,
                    shape,
                    begin,
                    end,
                },
            );
        }
        Ok(Self {
            file,
            data_start,
            entries,
        })
    }

    /// Whether a tensor of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Reads a floating-point tensor (`F32`, `F16` or `BF16`) as `f32`, checking its shape.
    pub fn read_f32(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
        let entry = self
            .entries
            .get(name)
            .ok_or_else(|| format!("tensor {name} is missing"))?;
        if entry.shape != shape {
            return Err(format!(
                "tensor {name} has shape {:?}, expected {shape:?}",
                entry.shape
            ));
        }
        let count: usize = shape.iter().product();
        let width = match entry.dtype.as_str() {
            "F32" => 4,
            "F16" | "BF16" => 2,
            other => return Err(format!("tensor {name} has dtype {other}, expected a float")),
        };
        if entry.end - entry.begin != (count * width) as u64 {
            return Err(format!(
                "tensor {name}: byte range does not match its shape"
            ));
        }
        let mut bytes = vec![0u8; count * width];
        self.file
            .seek(SeekFrom::Start(self.data_start + entry.begin))
            .and_then(|_| self.file.read_exact(&mut bytes))
            .map_err(|e| format!("tensor {name}: {e}"))?;
        Ok(match entry.dtype.as_str() {
            "F32" => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            "BF16" => bytes
                .chunks_exact(2)
                .map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16))
                .collect(),
            _ => bytes
                .chunks_exact(2)
                .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
        })
    }
}

/// IEEE half precision to single precision (exact).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let mant = (h & 0x3ff) as u32;
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: value = mant · 2^-24.
            let v = mant as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (mant << 13),
        _ => sign | ((exp + 112) << 23) | (mant << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(path: &Path, header: &str, data: &[u8]) {
        let mut f = File::create(path).unwrap();
        f.write_all(&(header.len() as u64).to_le_bytes()).unwrap();
        f.write_all(header.as_bytes()).unwrap();
        f.write_all(data).unwrap();
    }

    #[test]
    fn reads_f32_f16_and_bf16_tensors_and_checks_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let mut data = Vec::new();
        for v in [1.5f32, -2.0, 0.25, 8.0] {
            data.extend_from_slice(&v.to_le_bytes());
        }
        // f16: 1.0, -0.5, 65504 (max), 2^-24 (smallest subnormal)
        for h in [0x3c00u16, 0xb800, 0x7bff, 0x0001] {
            data.extend_from_slice(&h.to_le_bytes());
        }
        // bf16: 3.0
        data.extend_from_slice(&((3.0f32.to_bits() >> 16) as u16).to_le_bytes());
        let header = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"h":{"dtype":"F16","shape":[4],"data_offsets":[16,24]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[24,26]},"i":{"dtype":"I64","shape":[0],"data_offsets":[26,26]}}"#;
        write(&path, header, &data);
        let mut st = SafeTensors::open(&path).unwrap();
        assert_eq!(
            st.read_f32("a", &[2, 2]).unwrap(),
            vec![1.5, -2.0, 0.25, 8.0]
        );
        assert_eq!(
            st.read_f32("h", &[4]).unwrap(),
            vec![1.0, -0.5, 65504.0, 2f32.powi(-24)]
        );
        assert_eq!(st.read_f32("b", &[1]).unwrap(), vec![3.0]);
        assert!(st.read_f32("a", &[4]).unwrap_err().contains("shape"));
        assert!(st.read_f32("i", &[0]).unwrap_err().contains("dtype"));
        assert!(st.read_f32("zzz", &[1]).unwrap_err().contains("missing"));
    }

    #[test]
    fn refuses_truncated_or_inconsistent_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        write(
            &path,
            r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
            &[0; 8],
        );
        assert!(SafeTensors::open(&path).is_err(), "range past the end");
        std::fs::write(&path, [255u8; 16]).unwrap();
        assert!(SafeTensors::open(&path).is_err(), "absurd header length");
        write(
            &path,
            r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#,
            &[0; 16],
        );
        let mut st = SafeTensors::open(&path).unwrap();
        assert!(st.read_f32("a", &[3]).is_err(), "size does not match shape");
    }
}
