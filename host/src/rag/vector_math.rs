//! Dot products for retrieval, using AVX2 and FMA when the CPU has them (checked at
//! run time, so one binary serves every x86-64 machine), and the 8-bit quantisation
//! that lets a graph search read a quarter of the bytes per candidate.

/// `a · b` over the common length.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features `dot_avx2` is compiled for.
            return unsafe { dot_avx2(a, b) };
        }
    }
    dot_portable(a, b)
}

/// Eight independent accumulators, so the compiler can vectorise (a plain `sum()` of
/// f32 must keep its order and runs one add at a time).
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The same with 2 × 8 lanes of fused multiply-add.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail = dot_portable(ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] = x[i].mul_add(y[i], acc[i]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `a · b` of two 8-bit codes over the common length, exact in `i32` (up to 2^17
/// dimensions).
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the feature `dot_i8_avx2` is compiled for.
            return unsafe { dot_i8_avx2(a, b) };
        }
    }
    dot_i8_portable(a, b)
}

/// Integer sums may be reordered, so this vectorises as written.
fn dot_i8_portable(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(x, y)| *x as i32 * *y as i32).sum()
}

/// The same, compiled for 256-bit integer lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    dot_i8_portable(a, b)
}

/// Quantises `v` to 8-bit codes with one scale: `v[i] ≈ codes[i] as f32 * scale`.
pub fn quantize(v: &[f32], codes: &mut Vec<i8>) -> f32 {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    codes.extend(
        v.iter()
            .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8),
    );
    scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_naive_sum() {
        for len in [0, 1, 7, 8, 15, 16, 17, 100, 384, 1536] {
            let a: Vec<f32> = (0..len)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0)
                .collect();
            let b: Vec<f32> = (0..len)
                .map(|i| ((i * 3 % 11) as f32 - 5.0) / 4.0)
                .collect();
            let naive: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (*x as f64) * (*y as f64))
                .sum();
            for got in [dot(&a, &b), dot_portable(&a, &b)] {
                assert!(
                    (got as f64 - naive).abs() < 1e-3 * (1.0 + naive.abs()),
                    "len {len}: {got} vs {naive}"
                );
            }
            let ia: Vec<i8> = (0..len).map(|i| (i * 37 % 255) as u8 as i8).collect();
            let ib: Vec<i8> = (0..len).map(|i| (i * 11 % 251) as u8 as i8).collect();
            let exact: i32 = ia.iter().zip(&ib).map(|(x, y)| *x as i32 * *y as i32).sum();
            assert_eq!(dot_i8(&ia, &ib), exact, "len {len}");
            assert_eq!(dot_i8_portable(&ia, &ib), exact, "len {len}");
        }
    }

    #[test]
    fn different_lengths_use_the_common_prefix() {
        let a: Vec<f32> = (0..20).map(|i| i as f32 / 10.0).collect();
        let b: Vec<f32> = (0..35).map(|i| 1.0 - i as f32 / 50.0).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-4);
        assert!((dot(&b, &a) - naive).abs() < 1e-4);
        let ia: Vec<i8> = (0..20).collect();
        let ib: Vec<i8> = (0..35).map(|i| 17 - i).collect();
        let exact: i32 = ia.iter().zip(&ib).map(|(x, y)| *x as i32 * *y as i32).sum();
        assert_eq!(dot_i8(&ia, &ib), exact);
    }

    #[test]
    fn quantised_dot_products_stay_close() {
        let a: Vec<f32> = (0..384)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 40.0)
            .collect();
        let b: Vec<f32> = (0..384)
            .map(|i| ((i * 3 % 11) as f32 - 5.0) / 30.0)
            .collect();
        let (mut ca, mut cb) = (Vec::new(), Vec::new());
        let (sa, sb) = (quantize(&a, &mut ca), quantize(&b, &mut cb));
        let approx = dot_i8(&ca, &cb) as f32 * sa * sb;
        let exact = dot(&a, &b);
        assert!(
            (approx - exact).abs() < 0.01 * exact.abs().max(1.0),
            "{approx} vs {exact}"
        );
        let mut zero = Vec::new();
        assert_eq!(quantize(&[0.0; 4], &mut zero), 1.0);
        assert_eq!(zero, vec![0; 4]);
    }
}
