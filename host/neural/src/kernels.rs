//! The numeric kernels of the encoder: matrix products (the `gemm` crate: pure Rust,
//! AVX-512 / AVX2+FMA micro-kernels chosen at run time) and the element-wise steps
//! (layer norm, GELU, softmax), compiled once per instruction set and chosen at run
//! time too, so one binary built for plain x86-64 still runs them vectorised.

/// A row-major view of an `rows × cols` matrix inside a slice: element `(i, j)` is at
/// `i * row_stride + j * col_stride`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> View<'a> {
    /// A dense row-major matrix.
    pub fn dense(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// Columns `first..first + cols` of a dense matrix whose rows are `row_stride` long.
    pub fn columns(
        data: &'a [f32],
        rows: usize,
        row_stride: usize,
        first: usize,
        cols: usize,
    ) -> Self {
        Self {
            data: &data[first.min(data.len())..],
            rows,
            cols,
            row_stride,
            col_stride: 1,
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1)
                .checked_mul(self.row_stride)
                .and_then(|a| (self.cols - 1).checked_mul(self.col_stride).map(|b| (a, b)))
                .and_then(|(a, b)| a.checked_add(b))
                .is_some_and(|last| last < self.data.len())
    }
}

/// `dst[m × n] = (accumulate ? dst : 0) + scale · a[m × k] · b[k × n]`, where `dst` is
/// row-major with rows `dst_stride` long (its columns `0..n`). Single-threaded:
/// parallelism is across sequences, one batch per thread.
///
/// Panics if a view does not fit in its slice (a bug in the caller, never data).
pub fn matmul(
    dst: &mut [f32],
    dst_stride: usize,
    a: View<'_>,
    b: View<'_>,
    accumulate: bool,
    scale: f32,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner dimensions differ");
    assert!(a.fits() && b.fits(), "matmul: operand out of bounds");
    let d = View {
        data: dst,
        rows: m,
        cols: n,
        row_stride: dst_stride,
        col_stride: 1,
    };
    assert!(d.fits(), "matmul: destination out of bounds");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                dst[i * dst_stride..i * dst_stride + n].fill(0.0);
            }
        }
        return;
    }
    // SAFETY: every element the product reads or writes lies inside its slice (checked
    // above: the last element of each view is in bounds, strides are non-negative),
    // `dst` is borrowed mutably so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_stride as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Runs `$body` compiled for AVX-512, AVX2+FMA or the baseline, whichever the CPU has.
macro_rules! dispatch {
    ($generic:ident ( $($arg:expr),* )) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
            unsafe fn v4(f: impl FnOnce()) { f() }
            #[target_feature(enable = "avx2,fma")]
            unsafe fn v3(f: impl FnOnce()) { f() }
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU has these features (checked just above).
                return unsafe { v4(|| $generic($($arg),*)) };
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: as above.
                return unsafe { v3(|| $generic($($arg),*)) };
            }
        }
        $generic($($arg),*)
    }};
}

/// Sets each row of `x` (rows `stride` long, `bias.len()` columns used) to `bias`.
pub fn fill_rows(x: &mut [f32], stride: usize, bias: &[f32]) {
    for row in x.chunks_mut(stride) {
        let n = bias.len().min(row.len());
        row[..n].copy_from_slice(&bias[..n]);
    }
}

/// `x[i] = residual[i] + bias[i % bias.len()]`: the start of an output projection,
/// whose product is then accumulated on top.
pub fn residual_plus_bias(x: &mut [f32], residual: &[f32], bias: &[f32]) {
    dispatch!(residual_plus_bias_impl(x, residual, bias))
}

#[inline(always)]
fn residual_plus_bias_impl(x: &mut [f32], residual: &[f32], bias: &[f32]) {
    let n = bias.len();
    for (row, res) in x.chunks_mut(n).zip(residual.chunks(n)) {
        for ((v, r), b) in row.iter_mut().zip(res).zip(bias) {
            *v = r + b;
        }
    }
}

/// Layer normalisation of each `gamma.len()`-long row of `x`, in place.
pub fn layer_norm(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    dispatch!(layer_norm_impl(x, gamma, beta, eps))
}

#[inline(always)]
fn layer_norm_impl(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = gamma.len();
    if n == 0 {
        return;
    }
    for row in x.chunks_mut(n) {
        let mean = sum(row) / n as f32;
        let mut var = 0.0f32;
        // Eight partial sums: vectorisable, and closer to an exact sum.
        let mut acc = [0.0f32; 8];
        let mut chunks = row.chunks_exact(8);
        for c in &mut chunks {
            for (a, v) in acc.iter_mut().zip(c) {
                let d = v - mean;
                *a += d * d;
            }
        }
        for v in chunks.remainder() {
            var += (v - mean) * (v - mean);
        }
        var += acc.iter().sum::<f32>();
        let inv = 1.0 / (var / n as f32 + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}

#[inline(always)]
fn sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    chunks.remainder().iter().sum::<f32>() + acc.iter().sum::<f32>()
}

#[inline(always)]
fn max(x: &[f32]) -> f32 {
    // Sixteen running maxima: a single fold would not vectorise.
    let mut acc = [f32::NEG_INFINITY; 16];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = if v > *a { v } else { *a };
        }
    }
    let tail = chunks.remainder().iter().chain(acc.iter());
    tail.fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

/// GELU, the exact form `x · Φ(x) = x/2 · (1 + erf(x/√2))`, in place.
pub fn gelu(x: &mut [f32]) {
    dispatch!(gelu_impl(x))
}

#[inline(always)]
fn gelu_impl(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// The error function in single precision: a rational approximation on [-4, 4]
/// (Eigen's `generic_fast_erf_float`; max. error a few ulp), ±1 beyond. Branch-free,
/// so it vectorises.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2.mul_add(-2.726_142e-10, 2.770_681_4e-8);
    p = x2.mul_add(p, -2.101_024e-6);
    p = x2.mul_add(p, -5.692_506_4e-5);
    p = x2.mul_add(p, -7.349_906_3e-4);
    p = x2.mul_add(p, -2.954_6e-3);
    p = x2.mul_add(p, -1.609_603_3e-2);
    p *= x;
    let mut q = x2.mul_add(-1.456_607_2e-5, -2.133_740_6e-4);
    q = x2.mul_add(q, -1.682_827e-3);
    q = x2.mul_add(q, -7.373_329_2e-3);
    q = x2.mul_add(q, -1.426_474e-2);
    p / q
}

/// `e^x` in single precision (Cephes `expf`: relative error ~1e-7), branch-free so it
/// vectorises; inputs below -87 give ~0, above 88 are clamped.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = n.mul_add(-0.693_359_4, x);
    let r = n.mul_add(2.121_944_4e-4, r);
    let mut p = r.mul_add(1.987_569_1e-4, 1.398_2e-3);
    p = r.mul_add(p, 8.333_452e-3);
    p = r.mul_add(p, 4.166_579_6e-2);
    p = r.mul_add(p, 1.666_666_5e-1);
    p = r.mul_add(p, 0.5);
    let y = (p * r).mul_add(r, r) + 1.0;
    // 2^n from the bits of n + 1.5 · 2^23, whose low mantissa bits hold n (|n| ≤ 127):
    // integer arithmetic on the bits vectorises, a float-to-int conversion would not.
    let n_bits = (n + 12_582_912.0).to_bits() as i32 - 0x4B40_0000;
    let scale = f32::from_bits(((n_bits + 127) << 23) as u32);
    y * scale
}

/// Softmax of each `cols`-long row of `x` (rows `stride` apart), in place.
pub fn softmax_rows(x: &mut [f32], stride: usize, cols: usize) {
    dispatch!(softmax_rows_impl(x, stride, cols))
}

#[inline(always)]
fn softmax_rows_impl(x: &mut [f32], stride: usize, cols: usize) {
    if cols == 0 {
        return;
    }
    for row in x.chunks_mut(stride) {
        let n = cols.min(row.len());
        let row = &mut row[..n];
        let max = max(row);
        for v in row.iter_mut() {
            *v = exp(*v - max);
        }
        let inv = 1.0 / sum(row);
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn matmul_matches_a_naive_product_with_strides_and_transposes() {
        let (m, k, n) = (7, 37, 19);
        let a = pseudo_random(m * k, 1);
        let b = pseudo_random(k * n, 2);
        let want = naive(&a, &b, m, k, n);
        let mut got = vec![0.0; m * n];
        matmul(
            &mut got,
            n,
            View::dense(&a, m, k),
            View::dense(&b, k, n),
            false,
            1.0,
        );
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-4, "{g} vs {w}");
        }
        // b given as the transpose of a stored n × k matrix; result accumulated, scaled.
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let mut acc = vec![1.0; m * n];
        matmul(
            &mut acc,
            n,
            View::dense(&a, m, k),
            View::dense(&bt, n, k).t(),
            true,
            0.5,
        );
        for (g, w) in acc.iter().zip(&want) {
            assert!((g - (1.0 + 0.5 * w)).abs() < 1e-4, "{g} vs {w}");
        }
        // Columns of a wider matrix, into the columns of a wider destination.
        let wide = pseudo_random(m * 50, 3);
        let sub: Vec<f32> = (0..m * k)
            .map(|i| wide[(i / k) * 50 + 10 + i % k])
            .collect();
        let want = naive(&sub, &b, m, k, n);
        let mut dst = vec![0.0; m * 30];
        matmul(
            &mut dst,
            30,
            View::columns(&wide, m, 50, 10, k),
            View::dense(&b, k, n),
            false,
            1.0,
        );
        for i in 0..m {
            for j in 0..n {
                assert!((dst[i * 30 + j] - want[i * n + j]).abs() < 1e-4);
            }
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn matmul_refuses_a_view_larger_than_its_slice() {
        let a = vec![0.0; 10];
        let b = vec![0.0; 10];
        let mut c = vec![0.0; 100];
        matmul(
            &mut c,
            10,
            View::dense(&a, 3, 4),
            View::dense(&b, 4, 3),
            false,
            1.0,
        );
    }

    #[test]
    fn erf_and_exp_are_accurate() {
        // erf reference values (Abramowitz & Stegun, table 7.1 / high-precision).
        for (x, want) in [
            (0.0f32, 0.0f64),
            (0.1, 0.112_462_916_018_284_9),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (1.5, 0.966_105_146_475_310_7),
            (2.0, 0.995_322_265_018_952_7),
            (3.0, 0.999_977_909_503_001_4),
            (-0.7, -0.677_801_193_837_418_5),
            (6.0, 1.0),
        ] {
            assert!(
                (erf(x) as f64 - want).abs() < 2e-7,
                "erf({x}) = {} want {want}",
                erf(x)
            );
        }
        for x in [
            -80.0f32, -20.0, -5.5, -1.0, -0.3, 0.0, 0.25, 1.0, 10.0, 80.0,
        ] {
            let want = (x as f64).exp();
            let got = exp(x) as f64;
            assert!(
                ((got - want) / want).abs() < 3e-7,
                "exp({x}) = {got} want {want}"
            );
        }
    }

    #[test]
    fn element_wise_kernels() {
        let mut x = vec![1.0, 2.0, 3.0, 4.0, -1.0, 0.0, 1.0, 2.0];
        layer_norm(&mut x, &[1.0; 4], &[0.0; 4], 0.0);
        let want = [-1.341_640_8, -0.447_213_6, 0.447_213_6, 1.341_640_8];
        for (g, w) in x[..4].iter().zip(want).chain(x[4..].iter().zip(want)) {
            assert!((g - w).abs() < 1e-5);
        }
        let mut s = vec![1.0, 2.0, 3.0, 99.0, 0.0, 0.0, 0.0, 99.0];
        softmax_rows(&mut s, 4, 3);
        let e = [1.0f32.exp(), 2.0f32.exp(), 3.0f32.exp()];
        let total: f32 = e.iter().sum();
        for (g, w) in s[..3].iter().zip(e) {
            assert!((g - w / total).abs() < 1e-6);
        }
        assert_eq!(s[3], 99.0, "columns past `cols` are left alone");
        assert!(s[4..7].iter().all(|v| (v - 1.0 / 3.0).abs() < 1e-6));
        let mut g = vec![-3.0, -1.0, 0.0, 1.0, 3.0];
        gelu(&mut g);
        for (got, want) in g
            .iter()
            .zip([-0.004_049_7, -0.158_655_3, 0.0, 0.841_344_7, 2.995_950_3])
        {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }
}
