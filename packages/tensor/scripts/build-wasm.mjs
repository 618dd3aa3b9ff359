#!/usr/bin/env node
/* global console, process, Buffer, WebAssembly, URL */
/**
 * Generates the WebAssembly SIMD kernels of the cpu backend: writes WAT text from the generators
 * below, assembles it with wabt and writes src/cpu/wasm/kernels.generated.ts (base64 modules).
 * Two builds: plain SIMD (every engine with wasm SIMD) and relaxed SIMD (fused multiply-add where
 * the engine offers it). `node scripts/build-wasm.mjs --check` fails if the committed file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

/**
 * Micro-kernel shape: MR rows of A by NR = 8 columns of B (two f32x4 registers per row). 4 x 8
 * keeps 8 accumulators, 2 B vectors and 4 A splats in registers (x64 V8 leaves 15 xmm registers
 * to wasm); 6 x 8 spills. Measured here on the gemm export alone (packed 1024 x 1024 operands,
 * 1 thread): 6 x 8 with two k steps per iteration 40 GFLOP/s, 4 x 8 with one 59 (relaxed FMA;
 * 38 vs 51 with multiply and add).
 */
export const MR = 4;
export const NR = 8;
/** K is walked in blocks of KC so a B panel (KC x NR floats) stays in L1 while A panels stream. */
export const KC = 256;

const range = (n) => Array.from({ length: n }, (_, i) => i);

/**
 * The micro-kernels: C[MR x NR] (+)= A[MR x kl] * Bp[k][NR]. Bp is a packed panel (NR floats per
 * k step); C rows are ldc bytes apart. Three ways to read A:
 * - 'packed': a packed panel, MR floats per k step;
 * - 'col': rows adjacent (4 bytes apart), k steps `as` bytes apart (a transposed, unpacked operand);
 * - 'row': k steps adjacent, rows `as` bytes apart (a row-major, unpacked operand); rows at and
 *   beyond `rows` read row rows-1 again (their results are not used), so no read leaves the operand.
 */
function micro(fma, mode) {
  const acc = range(MR).flatMap((r) => [`$c${r}_0`, `$c${r}_1`]);
  const madd = (a, b, c) => (fma ? `(f32x4.relaxed_madd ${a} ${b} ${c})` : `(f32x4.add ${c} (f32x4.mul ${a} ${b}))`);
  const aLoad = (off, r) =>
    mode === 'packed'
      ? `(v128.load32_splat offset=${(off * MR + r) * 4} (local.get $a_))`
      : mode === 'col'
        ? `(v128.load32_splat offset=${r * 4} (local.get $a_))`
        : `(v128.load32_splat offset=${off * 4} (local.get $r${r}))`;
  const step = (off) => {
    const lines = [
      `(local.set $b0 (v128.load offset=${off * NR * 4} (local.get $b)))`,
      `(local.set $b1 (v128.load offset=${off * NR * 4 + 16} (local.get $b)))`,
    ];
    for (const r of range(MR)) {
      lines.push(`(local.set $a ${aLoad(off, r)})`);
      lines.push(`(local.set $c${r}_0 ${madd('(local.get $a)', '(local.get $b0)', `(local.get $c${r}_0)`)})`);
      lines.push(`(local.set $c${r}_1 ${madd('(local.get $a)', '(local.get $b1)', `(local.get $c${r}_1)`)})`);
    }
    // 'col' advances A after every k step
    if (mode === 'col') lines.push('(local.set $a_ (i32.add (local.get $a_) (local.get $as)))');
    return lines.join('\n      ');
  };
  const advanceA =
    mode === 'packed'
      ? `(local.set $a_ (i32.add (local.get $a_) (i32.const ${MR * 4})))`
      : mode === 'row'
        ? range(MR).map((r) => `(local.set $r${r} (i32.add (local.get $r${r}) (i32.const 4)))`).join(' ')
        : '';
  const rowPointers =
    mode === 'row'
      ? range(MR)
          .map((r) => `(local.set $r${r} (i32.add (local.get $a_) (i32.mul (local.get $as)
        (select (i32.const ${r}) (i32.sub (local.get $rows) (i32.const 1)) (i32.lt_u (i32.const ${r}) (local.get $rows))))))`)
          .join('\n    ')
      : '';
  // Rows of C at and beyond `rows` are neither read nor written: C may be the caller's output, m rows.
  const guard = (r, code) => (r ? `(if (i32.gt_u (local.get $rows) (i32.const ${r})) (then ${code}))` : code);
  const load = range(MR).map((r) =>
    guard(r, `(local.set $c${r}_0 (v128.load (i32.add (local.get $c) ${r ? `(i32.mul (local.get $ldc) (i32.const ${r}))` : '(i32.const 0)'})))
      (local.set $c${r}_1 (v128.load offset=16 (i32.add (local.get $c) ${r ? `(i32.mul (local.get $ldc) (i32.const ${r}))` : '(i32.const 0)'})))`),
  );
  const store = range(MR).map((r) =>
    guard(r, `(v128.store (i32.add (local.get $c) ${r ? `(i32.mul (local.get $ldc) (i32.const ${r}))` : '(i32.const 0)'}) (local.get $c${r}_0))
    (v128.store offset=16 (i32.add (local.get $c) ${r ? `(i32.mul (local.get $ldc) (i32.const ${r}))` : '(i32.const 0)'}) (local.get $c${r}_1))`),
  );
  return `
  (func $micro_${mode} (param $a_ i32) (param $b i32) (param $c i32) (param $ldc i32) (param $kl i32) (param $accumulate i32)
      (param $as i32) (param $rows i32)
    (local $a v128) (local $b0 v128) (local $b1 v128) ${acc.map((n) => `(local ${n} v128)`).join(' ')}
    ${range(MR).map((r) => `(local $r${r} i32)`).join(' ')}
    ${rowPointers}
    (if (local.get $accumulate) (then
      ${load.join('\n      ')}))
    ;; one k step per iteration: unrolled, V8 hoists the next step's loads above this step's
    ;; multiply-adds and runs out of registers (spilling accumulators), measured 30% slower
    (block $done (loop $k
      (br_if $done (i32.eqz (local.get $kl)))
      ${step(0)}
      ${advanceA}
      (local.set $b (i32.add (local.get $b) (i32.const ${NR * 4})))
      (local.set $kl (i32.sub (local.get $kl) (i32.const 1)))
      (br $k)))
    ${store.join('\n    ')})`;
}

/**
 * gemm(ap, bp, cp, K, ldc, mp0, mp1, np0, np1, amode, as, M): C panels [mp0, mp1) x [np0, np1) of
 * the padded C (row stride ldc bytes) = A * Bp over all of K. Bp holds N/NR panels of K*NR floats.
 * amode 0: Ap holds M/MR packed panels of K*MR floats; 1 ('col'): A unpacked, rows 4 bytes and k
 * steps `as` bytes apart; 2 ('row'): A unpacked, k steps 4 bytes and rows `as` bytes apart. M (the
 * rows of A) bounds the rows read in mode 2.
 */
function gemm() {
  const call = (mode) => `(call $micro_${mode}
            (local.get $aptr) (local.get $bptr)
            (i32.add (local.get $cp) (i32.add
              (i32.mul (i32.mul (local.get $mp) (i32.const ${MR})) (local.get $ldc))
              (i32.mul (local.get $np) (i32.const ${NR * 4}))))
            (local.get $ldc) (local.get $kl) (local.get $kc) (local.get $as)
            (i32.sub (local.get $M) (i32.mul (local.get $mp) (i32.const ${MR}))))`;
  return `
  (func (export "gemm") (param $ap i32) (param $bp i32) (param $cp i32) (param $K i32) (param $ldc i32)
      (param $mp0 i32) (param $mp1 i32) (param $np0 i32) (param $np1 i32) (param $amode i32) (param $as i32) (param $M i32)
    (local $kc i32) (local $kl i32) (local $np i32) (local $mp i32) (local $bptr i32) (local $aptr i32)
    (block $kdone (loop $kloop
      (br_if $kdone (i32.ge_u (local.get $kc) (local.get $K)))
      (local.set $kl (select (i32.const ${KC}) (i32.sub (local.get $K) (local.get $kc))
        (i32.lt_u (i32.const ${KC}) (i32.sub (local.get $K) (local.get $kc)))))
      (local.set $np (local.get $np0))
      (block $ndone (loop $nloop
        (br_if $ndone (i32.ge_u (local.get $np) (local.get $np1)))
        (local.set $bptr (i32.add (local.get $bp)
          (i32.mul (i32.add (i32.mul (local.get $np) (local.get $K)) (local.get $kc)) (i32.const ${NR * 4}))))
        (local.set $mp (local.get $mp0))
        (block $mdone (loop $mloop
          (br_if $mdone (i32.ge_u (local.get $mp) (local.get $mp1)))
          (if (i32.eqz (local.get $amode))
            (then
              (local.set $aptr (i32.add (local.get $ap) (i32.mul (i32.add (i32.mul (local.get $mp) (local.get $K)) (local.get $kc)) (i32.const ${MR * 4}))))
              ${call('packed')})
            (else (if (i32.eq (local.get $amode) (i32.const 1))
              (then
                (local.set $aptr (i32.add (local.get $ap) (i32.add
                  (i32.mul (local.get $mp) (i32.const ${MR * 4})) (i32.mul (local.get $kc) (local.get $as)))))
                ${call('col')})
              (else
                (local.set $aptr (i32.add (local.get $ap) (i32.add
                  (i32.mul (i32.mul (local.get $mp) (i32.const ${MR})) (local.get $as)) (i32.mul (local.get $kc) (i32.const 4)))))
                ${call('row')}))))
          (local.set $mp (i32.add (local.get $mp) (i32.const 1)))
          (br $mloop)))
        (local.set $np (i32.add (local.get $np) (i32.const 1)))
        (br $nloop)))
      (local.set $kc (i32.add (local.get $kc) (i32.const ${KC})))
      (br $kloop))))`;
}

/**
 * pack(src, rs, cs, dst, rows, cols, width, panels): panel p of dst holds, for each column index k
 * < cols, `width` floats: rows p*width .. p*width + width - 1 of the strided source (element (r, k)
 * at src + r*rs + k*cs bytes), zero beyond `rows`. Packs A (width MR, k along columns) and B
 * (width NR, with rows and columns swapped by the caller's strides).
 */
function pack() {
  return `
  (func (export "pack") (param $src i32) (param $rs i32) (param $cs i32) (param $dst i32)
      (param $rows i32) (param $cols i32) (param $width i32) (param $p0 i32) (param $p1 i32)
    (local $p i32) (local $r i32) (local $k i32) (local $full i32) (local $s i32) (local $d i32) (local $step i32)
    (local.set $step (i32.shl (local.get $width) (i32.const 2)))
    (local.set $p (local.get $p0))
    (block $pdone (loop $ploop
      (br_if $pdone (i32.ge_u (local.get $p) (local.get $p1)))
      ;; rows of this panel present in the source
      (local.set $full (i32.sub (local.get $rows) (i32.mul (local.get $p) (local.get $width))))
      (if (i32.gt_u (local.get $full) (local.get $width)) (then (local.set $full (local.get $width))))
      (local.set $r (i32.const 0))
      ;; a whole panel whose rows are adjacent floats in the source (B row-major, A column-major):
      ;; each k step is \`width\` consecutive floats, copied as vectors
      (if (i32.and (i32.and (i32.eq (local.get $rs) (i32.const 4)) (i32.eq (local.get $full) (local.get $width)))
          (i32.eqz (i32.and (local.get $width) (i32.const 3))))
        (then
          (local.set $s (i32.add (local.get $src) (i32.shl (i32.mul (local.get $p) (local.get $width)) (i32.const 2))))
          (local.set $d (i32.add (local.get $dst) (i32.shl (i32.mul (i32.mul (local.get $p) (local.get $cols)) (local.get $width)) (i32.const 2))))
          (local.set $k (local.get $cols))
          (block $vdone (loop $vloop
            (br_if $vdone (i32.eqz (local.get $k)))
            (local.set $r (i32.const 0))
            (block $cdone (loop $cloop
              (br_if $cdone (i32.ge_u (local.get $r) (local.get $step)))
              (v128.store (i32.add (local.get $d) (local.get $r)) (v128.load (i32.add (local.get $s) (local.get $r))))
              (local.set $r (i32.add (local.get $r) (i32.const 16)))
              (br $cloop)))
            (local.set $s (i32.add (local.get $s) (local.get $cs)))
            (local.set $d (i32.add (local.get $d) (local.get $step)))
            (local.set $k (i32.sub (local.get $k) (i32.const 1)))
            (br $vloop)))
          ;; the row loop below has nothing left to do
          (local.set $r (local.get $width))))
      (block $rdone (loop $rloop
        (br_if $rdone (i32.ge_u (local.get $r) (local.get $width)))
        (local.set $d (i32.add (local.get $dst)
          (i32.shl (i32.add (i32.mul (i32.mul (local.get $p) (local.get $cols)) (local.get $width)) (local.get $r)) (i32.const 2))))
        (local.set $k (local.get $cols))
        (if (i32.lt_u (local.get $r) (local.get $full))
          (then
            (local.set $s (i32.add (local.get $src)
              (i32.mul (i32.add (i32.mul (local.get $p) (local.get $width)) (local.get $r)) (local.get $rs))))
            (block $kdone (loop $kloop
              (br_if $kdone (i32.eqz (local.get $k)))
              (f32.store (local.get $d) (f32.load (local.get $s)))
              (local.set $s (i32.add (local.get $s) (local.get $cs)))
              (local.set $d (i32.add (local.get $d) (local.get $step)))
              (local.set $k (i32.sub (local.get $k) (i32.const 1)))
              (br $kloop))))
          (else
            (block $zdone (loop $zloop
              (br_if $zdone (i32.eqz (local.get $k)))
              (f32.store (local.get $d) (f32.const 0))
              (local.set $d (i32.add (local.get $d) (local.get $step)))
              (local.set $k (i32.sub (local.get $k) (i32.const 1)))
              (br $zloop)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rloop)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $ploop))))`;
}

/**
 * philox(k0, k1, startLo, startHi, first, n, out): Philox4x32-10 blocks start + first ..
 * start + first + n - 1 of the stream keyed (k0, k1), 4 u32 each, written from out + 16 * first.
 * Bit-identical to src/random/philox.ts (a test compares them).
 */
function philox() {
  const round = `
        (local.set $p0 (i64.mul (i64.const 0xd2511f53) (i64.extend_i32_u (local.get $c0))))
        (local.set $p1 (i64.mul (i64.const 0xcd9e8d57) (i64.extend_i32_u (local.get $c2))))
        (local.set $t (i32.xor (i32.xor (i32.wrap_i64 (i64.shr_u (local.get $p1) (i64.const 32))) (local.get $c1)) (local.get $key0)))
        (local.set $c1 (i32.wrap_i64 (local.get $p1)))
        (local.set $c2 (i32.xor (i32.xor (i32.wrap_i64 (i64.shr_u (local.get $p0) (i64.const 32))) (local.get $c3)) (local.get $key1)))
        (local.set $c3 (i32.wrap_i64 (local.get $p0)))
        (local.set $c0 (local.get $t))
        (local.set $key0 (i32.add (local.get $key0) (i32.const 0x9e3779b9)))
        (local.set $key1 (i32.add (local.get $key1) (i32.const 0xbb67ae85)))`;
  return `
  (func (export "philox") (param $k0 i32) (param $k1 i32) (param $startLo i32) (param $startHi i32)
      (param $first i32) (param $n i32) (param $out i32)
    (local $b i64) (local $end i64) (local $c0 i32) (local $c1 i32) (local $c2 i32) (local $c3 i32)
    (local $key0 i32) (local $key1 i32) (local $p0 i64) (local $p1 i64) (local $t i32) (local $r i32) (local $o i32)
    (local.set $b (i64.add
      (i64.or (i64.shl (i64.extend_i32_u (local.get $startHi)) (i64.const 32)) (i64.extend_i32_u (local.get $startLo)))
      (i64.extend_i32_u (local.get $first))))
    (local.set $end (i64.add (local.get $b) (i64.extend_i32_u (local.get $n))))
    (local.set $o (i32.add (local.get $out) (i32.shl (local.get $first) (i32.const 4))))
    (block $done (loop $blk
      (br_if $done (i64.ge_u (local.get $b) (local.get $end)))
      (local.set $c0 (i32.wrap_i64 (local.get $b)))
      (local.set $c1 (i32.wrap_i64 (i64.shr_u (local.get $b) (i64.const 32))))
      (local.set $c2 (i32.const 0))
      (local.set $c3 (i32.const 0))
      (local.set $key0 (local.get $k0))
      (local.set $key1 (local.get $k1))
      (local.set $r (i32.const 10))
      (loop $round
        ${round}
        (local.set $r (i32.sub (local.get $r) (i32.const 1)))
        (br_if $round (local.get $r)))
      (i32.store (local.get $o) (local.get $c0))
      (i32.store offset=4 (local.get $o) (local.get $c1))
      (i32.store offset=8 (local.get $o) (local.get $c2))
      (i32.store offset=12 (local.get $o) (local.get $c3))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (local.set $b (i64.add (local.get $b) (i64.const 1)))
      (br $blk))))`;
}

/**
 * Elementwise float32 ops, by index: binary ones on (a, b), unary ones on a. The cpu backend's
 * table (src/cpu/wasm/elementwise.ts) lists the same names in the same order; each matches the op
 * table's JS expression bit for bit (float32 +, -, *, / and sqrt are correctly rounded either way;
 * max/min/relu propagate NaN and order -0 below +0).
 */
/** Byte address of the elementwise ops' two float64 parameters (below the scratch arena; see runtime.ts). */
export const PARAMS = 320;

const LOG2E = Math.LOG2E;
/** ln 2 split so that n * LN2_HI is exact for |n| < 2^20 (fdlibm's split). */
const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
/** 1.5 * 2^52: adding it rounds a float64 of magnitude below 2^51 to an integer in the low mantissa bits. */
const MAGIC = 6755399441055744;
/**
 * float64x2 constants of the inlined ops, held in locals set once per kernel call: V8 builds a
 * v128.const anew at each use inside a loop (it was a third of exp's time).
 */
const F64_CONSTS = new Map();
const f64c = (v) => {
  const key = Object.is(v, -0) ? '-0' : String(v);
  if (!F64_CONSTS.has(key)) F64_CONSTS.set(key, `$k${F64_CONSTS.size}`);
  return `(local.get ${F64_CONSTS.get(key)})`;
};
const f64Prelude = () => [...F64_CONSTS].map(([v, name]) => `(local.set ${name} (v128.const f64x2 ${v} ${v}))`).join(' ');
const fact = (k) => (k <= 1 ? 1 : k * fact(k - 1));

/**
 * The float64-evaluated ops, inlined into the elementwise kernel (a call per vector cost more
 * than the arithmetic). Each float32x4 is done as two float64x2 halves and rounded once.
 * exp: x clamped to [-120, 120] (NaN passes; float32 results are 0 or inf well inside), x =
 * n ln 2 + r with |r| <= ln 2 / 2, e^r by its Taylor series to r^11 (truncation below 1e-14
 * relative), times 2^n built in the exponent bits. Rounded to float32 this agrees with Math.exp
 * rounded to float32 except within ~1e-14 of a rounding boundary, where they are 1 ulp apart.
 * expm1 uses its series to x^5 below |x| < 1e-3 (no cancellation), tanh its series to x^5 below
 * 1e-4.
 */
function f64op(name, a) {
  // e^r = sum of r^k / k! for k <= 11 by Estrin's scheme (a short dependency chain: pairs, then
  // r^2, r^4 and r^8 combine them), which the core overlaps far better than Horner's rule.
  const r = '(local.get $hr)';
  const r2 = '(local.get $hq)';
  const c = (k) => f64c(1 / fact(k));
  const pair = (k) => `(f64x2.add ${c(k)} (f64x2.mul ${c(k + 1)} ${r}))`;
  const quad = (k) => `(f64x2.add ${pair(k)} (f64x2.mul ${r2} ${pair(k + 2)}))`;
  const r4 = `(f64x2.mul ${r2} ${r2})`;
  const poly = `(f64x2.add (f64x2.add ${quad(0)} (f64x2.mul ${r4} ${quad(4)})) (f64x2.mul (f64x2.mul ${r4} ${r4}) ${quad(8)}))`;
  // $ht = exp(arg), arg clamped to [-120, 120] (pseudo-min/max: a NaN argument passes): exp's
  // float32 result is inf / 0 well inside, and so are the results of the ops built on it. The
  // integer n = round(x log2 e) comes from adding 1.5 * 2^52 (it lands in the low mantissa bits,
  // which also give 2^n's exponent).
  const expd = (arg) => `
    (local.set $hz (f64x2.pmin (f64x2.pmax ${arg} ${f64c(-120)}) ${f64c(120)}))
    (local.set $ht (f64x2.add (f64x2.mul (local.get $hz) ${f64c(LOG2E)}) ${f64c(MAGIC)}))
    (local.set $hn (f64x2.sub (local.get $ht) ${f64c(MAGIC)}))
    (local.set $hr (f64x2.sub (f64x2.sub (local.get $hz) (f64x2.mul (local.get $hn) ${f64c(LN2_HI)})) (f64x2.mul (local.get $hn) ${f64c(LN2_LO)})))
    (local.set $hq (f64x2.mul (local.get $hr) (local.get $hr)))
    (local.set $ht (f64x2.mul ${poly} (i64x2.shl (i64x2.add (local.get $ht) (v128.const i64x2 1023 1023)) (i32.const 52))))`;
  const x = '(local.get $hx)';
  const p0 = `(f64x2.splat (f64.load (i32.const ${PARAMS})))`;
  const pos = `(f64x2.gt ${x} ${f64c(0)})`;
  const expm1 = `${expd(x)}
    (local.set $ht (v128.bitselect
      (f64x2.mul ${x} (f64x2.add ${f64c(1)} (f64x2.mul ${x} (f64x2.add ${f64c(1 / 2)} (f64x2.mul ${x} (f64x2.add ${f64c(1 / 6)} (f64x2.mul ${x} (f64x2.add ${f64c(1 / 24)} (f64x2.mul ${x} ${f64c(1 / 120)})))))))))
      (f64x2.sub (local.get $ht) ${f64c(1)})
      (f64x2.lt (f64x2.abs ${x}) ${f64c(1e-3)})))`;
  const bodies = {
    exp: `${expd(x)} (local.set $hy (local.get $ht))`,
    sigmoid: `${expd(`(f64x2.neg ${x})`)} (local.set $hy (f64x2.div ${f64c(1)} (f64x2.add ${f64c(1)} (local.get $ht))))`,
    // below -120 the loops' x / (1 + e^-x) is -0 in float32 (the clamped exp would leave x e^-120),
    // and -inf / (1 + inf) is NaN (as in PyTorch)
    silu: `${expd(`(f64x2.neg ${x})`)}
    (local.set $hy (v128.bitselect ${f64c(-0)} (f64x2.div ${x} (f64x2.add ${f64c(1)} (local.get $ht))) (f64x2.lt ${x} ${f64c(-120)})))
    (local.set $hy (v128.bitselect ${f64c('nan')} (local.get $hy) (f64x2.eq ${x} ${f64c('-inf')})))`,
    tanh: `${expd(`(f64x2.add ${x} ${x})`)}
    (local.set $hz (f64x2.mul ${x} ${x}))
    (local.set $hy (v128.bitselect
      (f64x2.mul ${x} (f64x2.add ${f64c(1)} (f64x2.mul (local.get $hz) (f64x2.add ${f64c(-1 / 3)} (f64x2.mul (local.get $hz) ${f64c(2 / 15)})))))
      (f64x2.sub ${f64c(1)} (f64x2.div ${f64c(2)} (f64x2.add (local.get $ht) ${f64c(1)})))
      (f64x2.lt (f64x2.abs ${x}) ${f64c(1e-4)})))`,
    expm1: `${expm1} (local.set $hy (local.get $ht))`,
    elu: `${expm1} (local.set $hy (v128.bitselect ${x} (f64x2.mul ${p0} (local.get $ht)) ${pos}))`,
    leakyRelu: `(local.set $hy (v128.bitselect ${x} (f64x2.mul ${x} ${p0}) ${pos}))`,
  };
  return `(block (result v128)
    (local.set $hv ${a})
    (local.set $hx (f64x2.promote_low_f32x4 (local.get $hv)))
    ${bodies[name]}
    (local.set $hlo (f32x4.demote_f64x2_zero (local.get $hy)))
    (local.set $hx (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $hv) (local.get $hv))))
    ${bodies[name]}
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $hlo) (f32x4.demote_f64x2_zero (local.get $hy))))`;
}

/** The ops whose code reads the scalar parameters at PARAMS (the caller writes them first). */
const PARAM_OPS = ['elu', 'leakyRelu', 'clamp'];

/** The float64-evaluated ops (names as in the op table). */
const F64_OPS = [['exp'], ['sigmoid'], ['silu'], ['tanh'], ['expm1'], ['elu'], ['leakyRelu']];

export const EW_OPS = [
  ['add', (a, b) => `(f32x4.add ${a} ${b})`, (a, b) => `(f32.add ${a} ${b})`],
  ['sub', (a, b) => `(f32x4.sub ${a} ${b})`, (a, b) => `(f32.sub ${a} ${b})`],
  ['mul', (a, b) => `(f32x4.mul ${a} ${b})`, (a, b) => `(f32.mul ${a} ${b})`],
  ['div', (a, b) => `(f32x4.div ${a} ${b})`, (a, b) => `(f32.div ${a} ${b})`],
  ['maximum', (a, b) => `(f32x4.max ${a} ${b})`, (a, b) => `(f32.max ${a} ${b})`],
  ['minimum', (a, b) => `(f32x4.min ${a} ${b})`, (a, b) => `(f32.min ${a} ${b})`],
  ['relu', (a) => `(f32x4.max ${a} (v128.const f32x4 0 0 0 0))`, (a) => `(f32.max ${a} (f32.const 0))`],
  ['neg', (a) => `(f32x4.neg ${a})`, (a) => `(f32.neg ${a})`],
  ['abs', (a) => `(f32x4.abs ${a})`, (a) => `(f32.abs ${a})`],
  ['sqrt', (a) => `(f32x4.sqrt ${a})`, (a) => `(f32.sqrt ${a})`],
  ['copy', (a) => a, (a) => a],
  // +0 where b <= 0, else a (a NaN b passes a); the mask keeps a's bits
  ['reluBackward', (a, b) => `(v128.andnot ${a} (f32x4.le ${b} (v128.const f32x4 0 0 0 0)))`, (a, b) => `(select (f32.const 0) ${a} (f32.le ${b} (f32.const 0)))`],
  // Ops evaluated in float64 two lanes at a time (see f64ops) and rounded once, as the TypeScript
  // loops evaluate them; p0 / p1 are the op's scalar parameters (float64 at PARAMS).
  ...F64_OPS.map(([name]) => [name, (a) => f64op(name, a), (a) => `(f32x4.extract_lane 0 ${f64op(name, `(f32x4.splat ${a})`)})`, true]),
  // clamp(a, p0, p1): NaN stays NaN; bounds rounded to float32 first (the same results: rounding is monotone)
  ['clamp', (a) => `(f32x4.min (f32x4.max ${a} (f32x4.splat (f32.demote_f64 (f64.load (i32.const ${PARAMS}))))) (f32x4.splat (f32.demote_f64 (f64.load (i32.const ${PARAMS + 8})))))`,
    (a) => `(f32.min (f32.max ${a} (f32.demote_f64 (f64.load (i32.const ${PARAMS})))) (f32.demote_f64 (f64.load (i32.const ${PARAMS + 8}))))`],
];

/**
 * ew(code, a, b, o, n): o[i] = op(a[i], b[i]) for i < n, code = 3 * op + layout; layout 0: a and b
 * run contiguously, 1: b is one value (a scalar or a broadcast), 2: a is one value. Unary ops
 * ignore b.
 */
function ew() {
  const cases = EW_OPS.flatMap(([, vec, sca, usesF64]) =>
    [0, 1, 2].map((layout) => {
      const va = layout === 2 ? '(local.get $sa)' : '(v128.load (local.get $a))';
      const vb = layout === 1 ? '(local.get $sb)' : '(v128.load (local.get $b))';
      const fa = layout === 2 ? '(f32.load (local.get $a0))' : '(f32.load (local.get $a))';
      const fb = layout === 1 ? '(f32.load (local.get $b0))' : '(f32.load (local.get $b))';
      const stepA = layout === 2 ? 0 : 1;
      const stepB = layout === 1 ? 0 : 1;
      const adv = (w) => [
        stepA ? `(local.set $a (i32.add (local.get $a) (i32.const ${w})))` : '',
        stepB ? `(local.set $b (i32.add (local.get $b) (i32.const ${w})))` : '',
        `(local.set $o (i32.add (local.get $o) (i32.const ${w})))`,
      ].join(' ');
      const vector = vec(va, vb);
      const scalar = sca(fa, fb);
      return `
        ${usesF64 ? '@F64_PRELUDE@' : ''}
        (block $v (loop $l
          (br_if $v (i32.lt_u (local.get $n) (i32.const 4)))
          (v128.store (local.get $o) ${vector})
          ${adv(16)}
          (local.set $n (i32.sub (local.get $n) (i32.const 4)))
          (br $l)))
        (block $s (loop $t
          (br_if $s (i32.eqz (local.get $n)))
          (f32.store (local.get $o) ${scalar})
          ${adv(4)}
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $t)))
        (return)`;
    }),
  );
  // nested blocks: the innermost is left by br_table to the case's code, placed after it
  let body = `(br_table ${cases.map((_, i) => `$c${i}`).join(' ')} $c0 (local.get $code))`;
  cases.forEach((code, i) => {
    body = `(block $c${i}\n        ${body})${code}`;
  });
  body = body.replaceAll('@F64_PRELUDE@', f64Prelude());
  const constLocals = [...F64_CONSTS.values()].map((name) => `(local ${name} v128)`).join(' ');
  return `
  (func $ew (export "ew") (param $code i32) (param $a i32) (param $b i32) (param $o i32) (param $n i32)
    (local $sa v128) (local $sb v128) (local $a0 i32) (local $b0 i32)
    (local $hv v128) (local $hx v128) (local $hz v128) (local $hn v128) (local $hr v128) (local $hq v128) (local $ht v128) (local $hy v128) (local $hlo v128)
    ${constLocals}
    (local.set $a0 (local.get $a))
    (local.set $b0 (local.get $b))
    (local.set $sa (v128.load32_splat (local.get $a)))
    (local.set $sb (v128.load32_splat (local.get $b)))
    ${body})`;
}

/**
 * rsum(x, n, out): the float64 sum of n contiguous float32s at x, stored at out. Four float64x2
 * partial sums over 8 elements per step, then the tail one at a time; the order is fixed, so a sum
 * is the same on any thread.
 */
function rsum() {
  const hi = '(i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))';
  const lanes = (acc) => `(f64.add (f64x2.extract_lane 0 (local.get ${acc})) (f64x2.extract_lane 1 (local.get ${acc})))`;
  return `
  (func (export "rsum") (param $x i32) (param $n i32) (param $out i32)
    (local $v v128) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $t f64)
    (block $v8 (loop $l8
      (br_if $v8 (i32.lt_u (local.get $n) (i32.const 8)))
      (local.set $v (v128.load (local.get $x)))
      (local.set $s0 (f64x2.add (local.get $s0) (f64x2.promote_low_f32x4 (local.get $v))))
      (local.set $s1 (f64x2.add (local.get $s1) (f64x2.promote_low_f32x4 ${hi})))
      (local.set $v (v128.load offset=16 (local.get $x)))
      (local.set $s2 (f64x2.add (local.get $s2) (f64x2.promote_low_f32x4 (local.get $v))))
      (local.set $s3 (f64x2.add (local.get $s3) (f64x2.promote_low_f32x4 ${hi})))
      (local.set $x (i32.add (local.get $x) (i32.const 32)))
      (local.set $n (i32.sub (local.get $n) (i32.const 8)))
      (br $l8)))
    (local.set $s0 (f64x2.add (f64x2.add (local.get $s0) (local.get $s1)) (f64x2.add (local.get $s2) (local.get $s3))))
    (local.set $t ${lanes('$s0')})
    (block $s (loop $l1
      (br_if $s (i32.eqz (local.get $n)))
      (local.set $t (f64.add (local.get $t) (f64.promote_f32 (f32.load (local.get $x)))))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l1)))
    (f64.store (local.get $out) (local.get $t)))`;
}

/**
 * adam(g, p, m, v, x, n, k, flags): one Adam / AdamW step over n contiguous float32s in place
 * (src/cpu/optim.ts). k points at 9 float32 constants: beta1, 1 - beta1, beta2, 1 - beta2, wd,
 * 1 - lr wd, sqrt(1 - beta2^t), eps, lr / (1 - beta1^t). flags: 1 = L2 decay added to the
 * gradient, 2 = decoupled decay of the parameter, 4 = AMSGrad (x holds the running maximum).
 * Plain mul/add/div/sqrt/max in the elementwise form's order, never fused, so the bits equal the
 * separate ops'.
 */
function adam() {
  const names = ['b1', 'c1', 'b2', 'c2', 'wd', 'keep', 'sbc2', 'e', 'step'];
  const body = (V, load, store, w) => {
    const op = (o, ...a) => `(${V}.${o} ${a.join(' ')})`;
    const K = (name) => `(local.get $${V === 'f32x4' ? 'v' : 's'}${name})`;
    const L = (ptr) => `(${load} (local.get ${ptr}))`;
    return `
      (local.set $pv ${L('$p')})
      (local.set $gv ${L('$g')})
      (if (i32.and (local.get $flags) (i32.const 1)) (then (local.set $gv ${op('add', '(local.get $gv)', op('mul', '(local.get $pv)', K('wd')))})))
      (local.set $base (local.get $pv))
      (if (i32.and (local.get $flags) (i32.const 2)) (then (local.set $base ${op('mul', '(local.get $pv)', K('keep'))})))
      (local.set $mv ${op('add', op('mul', L('$m'), K('b1')), op('mul', '(local.get $gv)', K('c1')))})
      (${store} (local.get $m) (local.get $mv))
      (local.set $vv ${op('add', op('mul', L('$v'), K('b2')), op('mul', op('mul', '(local.get $gv)', '(local.get $gv)'), K('c2')))})
      (${store} (local.get $v) (local.get $vv))
      (local.set $sec (local.get $vv))
      (if (i32.and (local.get $flags) (i32.const 4)) (then
        (local.set $sec ${op('max', L('$x'), '(local.get $vv)')})
        (${store} (local.get $x) (local.get $sec))))
      (${store} (local.get $p) ${op('sub', '(local.get $base)', op('mul', op('div', '(local.get $mv)', op('add', op('div', op('sqrt', '(local.get $sec)'), K('sbc2')), K('e'))), K('step')))})
      ${['$g', '$p', '$m', '$v', '$x'].map((r) => `(local.set ${r} (i32.add (local.get ${r}) (i32.const ${w})))`).join(' ')}
      (local.set $n (i32.sub (local.get $n) (i32.const ${w / 4})))`;
  };
  const locals = (V, T) => `(local $pv ${T}) (local $gv ${T}) (local $base ${T}) (local $mv ${T}) (local $vv ${T}) (local $sec ${T})`;
  return `
  (func $adam_tail (param $g i32) (param $p i32) (param $m i32) (param $v i32) (param $x i32) (param $n i32) (param $k i32) (param $flags i32)
    ${locals('f32', 'f32')} ${names.map((c) => `(local $s${c} f32)`).join(' ')}
    ${names.map((c, i) => `(local.set $s${c} (f32.load offset=${4 * i} (local.get $k)))`).join(' ')}
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      ${body('f32', 'f32.load', 'f32.store', 4)}
      (br $l))))
  (func (export "adam") (param $g i32) (param $p i32) (param $m i32) (param $v i32) (param $x i32) (param $n i32) (param $k i32) (param $flags i32)
    ${locals('f32x4', 'v128')} ${names.map((c) => `(local $v${c} v128)`).join(' ')}
    ${names.map((c, i) => `(local.set $v${c} (v128.load32_splat offset=${4 * i} (local.get $k)))`).join(' ')}
    (block $done (loop $l
      (br_if $done (i32.lt_u (local.get $n) (i32.const 4)))
      ${body('f32x4', 'v128.load', 'v128.store', 16)}
      (br $l)))
    (call $adam_tail (local.get $g) (local.get $p) (local.get $m) (local.get $v) (local.get $x) (local.get $n) (local.get $k) (local.get $flags)))`;
}

/**
 * im2col(x, xc, xh, xw, H, W, C, KH, KW, sh, sw, ph, pw, dh, dw, OH, OW, dst): the im2col matrix
 * of one image (channel 0 at byte address x; channel, row and column strides xc, xh, xw in bytes)
 * to dst: row (c, ky, kx) holds, for each output pixel (oy, ox), the input sample under that tap,
 * x[c, oy*sh + ky*dh - ph, ox*sw + kx*dw - pw], 0 outside the input. conv2d (src/cpu/wasm/conv.ts).
 */
function im2col() {
  const zeros = (n) => `(block $zd${n} (loop $zl${n}
            (br_if $zd${n} (i32.eqz (local.get $${n})))
            (f32.store (local.get $dst) (f32.const 0))
            (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
            (local.set $${n} (i32.sub (local.get $${n}) (i32.const 1)))
            (br $zl${n})))`;
  return `
  (func (export "im2col") (param $x i32) (param $xc i32) (param $xh i32) (param $xw i32)
      (param $H i32) (param $W i32) (param $C i32) (param $KH i32) (param $KW i32)
      (param $sh i32) (param $sw i32) (param $ph i32) (param $pw i32) (param $dh i32) (param $dw i32)
      (param $OH i32) (param $OW i32) (param $dst i32)
    (local $c i32) (local $ky i32) (local $kx i32) (local $oy i32) (local $iy i32) (local $sx i32)
    (local $lo i32) (local $hi i32) (local $s i32) (local $n i32) (local $z0 i32) (local $z1 i32) (local $step i32)
    (local.set $step (i32.mul (local.get $sw) (local.get $xw)))
    (local.set $c (i32.const 0))
    (block $cd (loop $cl
      (br_if $cd (i32.ge_u (local.get $c) (local.get $C)))
      (local.set $ky (i32.const 0))
      (block $yd (loop $yl
        (br_if $yd (i32.ge_u (local.get $ky) (local.get $KH)))
        (local.set $kx (i32.const 0))
        (block $xd (loop $xl
          (br_if $xd (i32.ge_u (local.get $kx) (local.get $KW)))
          ;; output columns [lo, hi) read inside the row: ix = ox*sw + sx in [0, W)
          (local.set $sx (i32.sub (i32.mul (local.get $kx) (local.get $dw)) (local.get $pw)))
          (local.set $lo (select (i32.const 0)
            (i32.div_u (i32.sub (i32.sub (local.get $sw) (i32.const 1)) (local.get $sx)) (local.get $sw))
            (i32.ge_s (local.get $sx) (i32.const 0))))
          (local.set $hi (select (i32.const 0)
            (i32.add (i32.div_u (i32.sub (i32.sub (local.get $W) (i32.const 1)) (local.get $sx)) (local.get $sw)) (i32.const 1))
            (i32.lt_s (i32.sub (i32.sub (local.get $W) (i32.const 1)) (local.get $sx)) (i32.const 0))))
          (if (i32.gt_s (local.get $hi) (local.get $OW)) (then (local.set $hi (local.get $OW))))
          (if (i32.gt_s (local.get $lo) (local.get $hi)) (then (local.set $lo (local.get $hi))))
          (local.set $oy (i32.const 0))
          (block $od (loop $ol
            (br_if $od (i32.ge_u (local.get $oy) (local.get $OH)))
            (local.set $iy (i32.sub (i32.add (i32.mul (local.get $oy) (local.get $sh)) (i32.mul (local.get $ky) (local.get $dh))) (local.get $ph)))
            (if (i32.ge_u (local.get $iy) (local.get $H))
              (then
                ;; a row outside the input (iy < 0 wraps to a large unsigned value)
                (local.set $z0 (local.get $OW))
                ${zeros('z0')})
              (else
                (local.set $z0 (local.get $lo))
                ${zeros('z0')}
                (local.set $s (i32.add (local.get $x) (i32.add (i32.add (i32.mul (local.get $c) (local.get $xc)) (i32.mul (local.get $iy) (local.get $xh)))
                  (i32.mul (i32.add (i32.mul (local.get $lo) (local.get $sw)) (local.get $sx)) (local.get $xw)))))
                (local.set $n (i32.sub (local.get $hi) (local.get $lo)))
                (if (i32.eq (local.get $step) (i32.const 4)) (then
                  (block $vd (loop $vl
                    (br_if $vd (i32.lt_u (local.get $n) (i32.const 4)))
                    (v128.store (local.get $dst) (v128.load (local.get $s)))
                    (local.set $s (i32.add (local.get $s) (i32.const 16)))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
                    (local.set $n (i32.sub (local.get $n) (i32.const 4)))
                    (br $vl)))))
                (block $sd (loop $sl
                  (br_if $sd (i32.eqz (local.get $n)))
                  (f32.store (local.get $dst) (f32.load (local.get $s)))
                  (local.set $s (i32.add (local.get $s) (local.get $step)))
                  (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
                  (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                  (br $sl)))
                (local.set $z1 (i32.sub (local.get $OW) (local.get $hi)))
                ${zeros('z1')}))
            (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
            (br $ol)))
          (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
          (br $xl)))
        (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
        (br $yl)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $cl))))`;
}

/**
 * addruns(src, dst, len, count, srcStride, dstStride, dstStep): for each of `count` runs, adds the
 * `len` contiguous floats at src into the floats at dst, dst, + dstStep, ... (bytes; 4 is
 * contiguous, in SIMD); then src and dst move on by their strides (bytes). col2im of
 * convTranspose2d (src/cpu/wasm/conv.ts): one call per kernel tap and image.
 */
function addruns() {
  return `
  (func (export "addruns") (param $src i32) (param $dst i32) (param $len i32) (param $count i32)
      (param $srcStride i32) (param $dstStride i32) (param $dstStep i32)
    (local $s i32) (local $d i32) (local $n i32)
    (block $done (loop $run
      (br_if $done (i32.eqz (local.get $count)))
      (local.set $s (local.get $src))
      (local.set $d (local.get $dst))
      (local.set $n (local.get $len))
      (if (i32.eq (local.get $dstStep) (i32.const 4)) (then
        (block $v (loop $l
          (br_if $v (i32.lt_u (local.get $n) (i32.const 4)))
          (v128.store (local.get $d) (f32x4.add (v128.load (local.get $d)) (v128.load (local.get $s))))
          (local.set $s (i32.add (local.get $s) (i32.const 16)))
          (local.set $d (i32.add (local.get $d) (i32.const 16)))
          (local.set $n (i32.sub (local.get $n) (i32.const 4)))
          (br $l)))))
      (block $t (loop $l1
        (br_if $t (i32.eqz (local.get $n)))
        (f32.store (local.get $d) (f32.add (f32.load (local.get $d)) (f32.load (local.get $s))))
        (local.set $s (i32.add (local.get $s) (i32.const 4)))
        (local.set $d (i32.add (local.get $d) (local.get $dstStep)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l1)))
      (local.set $src (i32.add (local.get $src) (local.get $srcStride)))
      (local.set $dst (i32.add (local.get $dst) (local.get $dstStride)))
      (local.set $count (i32.sub (local.get $count) (i32.const 1)))
      (br $run))))`;
}

/**
 * csum(x, rs, K, n, out): float64 sums down n <= 8 adjacent columns of K rows (rows rs bytes
 * apart), written as n float64s at out. Each column adds its rows in order, one float64 partial per
 * column, so the sums equal a plain loop's and do not depend on the thread count.
 */
function csum() {
  const hi = (v) => `(i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 ${v} ${v})`;
  return `
  (func (export "csum") (param $x i32) (param $rs i32) (param $K i32) (param $n i32) (param $out i32)
    (local $v v128) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $k i32) (local $p i32) (local $t f64) (local $c i32)
    (if (i32.eq (local.get $n) (i32.const 8)) (then
      (local.set $p (local.get $x))
      (local.set $k (local.get $K))
      (block $d (loop $l
        (br_if $d (i32.eqz (local.get $k)))
        (local.set $v (v128.load (local.get $p)))
        (local.set $s0 (f64x2.add (local.get $s0) (f64x2.promote_low_f32x4 (local.get $v))))
        (local.set $s1 (f64x2.add (local.get $s1) (f64x2.promote_low_f32x4 ${hi('(local.get $v)')})))
        (local.set $v (v128.load offset=16 (local.get $p)))
        (local.set $s2 (f64x2.add (local.get $s2) (f64x2.promote_low_f32x4 (local.get $v))))
        (local.set $s3 (f64x2.add (local.get $s3) (f64x2.promote_low_f32x4 ${hi('(local.get $v)')})))
        (local.set $p (i32.add (local.get $p) (local.get $rs)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $l)))
      (v128.store (local.get $out) (local.get $s0))
      (v128.store offset=16 (local.get $out) (local.get $s1))
      (v128.store offset=32 (local.get $out) (local.get $s2))
      (v128.store offset=48 (local.get $out) (local.get $s3))
      (return)))
    (block $cd (loop $cl
      (br_if $cd (i32.ge_u (local.get $c) (local.get $n)))
      (local.set $t (f64.const 0))
      (local.set $p (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2))))
      (local.set $k (local.get $K))
      (block $d1 (loop $l1
        (br_if $d1 (i32.eqz (local.get $k)))
        (local.set $t (f64.add (local.get $t) (f64.promote_f32 (f32.load (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (local.get $rs)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $l1)))
      (f64.store (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 3))) (local.get $t))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $cl))))`;
}

/**
 * spmm(rp, ci, va, d, ldd, out, k, r0, r1): rows [r0, r1) of out (k floats a row, contiguous) =
 * the CSR rows (int32 row pointers rp, column ids ci, float32 values va) times the dense rows at
 * d (ldd bytes apart, columns adjacent). float32 accumulation in entry order, four columns at a
 * time, plain mul + add (no FMA: the same bits in both builds).
 */
function spmm() {
  const inner = (V, zero, load, splat, store, w) => `
        (local.set $acc${V} ${zero})
        (local.set $j (local.get $j0))
        (block $jd${V} (loop $jl${V}
          (br_if $jd${V} (i32.ge_u (local.get $j) (local.get $j1)))
          (local.set $src (i32.add (i32.add (local.get $d) (i32.mul (i32.load (i32.add (local.get $ci) (i32.shl (local.get $j) (i32.const 2)))) (local.get $ldd)))
            (i32.shl (local.get $c) (i32.const 2))))
          (local.set $acc${V} (${V === 'v' ? 'f32x4' : 'f32'}.add (local.get $acc${V}) (${V === 'v' ? 'f32x4' : 'f32'}.mul (${splat} (i32.add (local.get $va) (i32.shl (local.get $j) (i32.const 2)))) (${load} (local.get $src)))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $jl${V})))
        (${store} (i32.add (local.get $o) (i32.shl (local.get $c) (i32.const 2))) (local.get $acc${V}))
        (local.set $c (i32.add (local.get $c) (i32.const ${w})))`;
  return `
  (func (export "spmm") (param $rp i32) (param $ci i32) (param $va i32) (param $d i32) (param $ldd i32) (param $out i32)
      (param $k i32) (param $r0 i32) (param $r1 i32)
    (local $r i32) (local $j i32) (local $j0 i32) (local $j1 i32) (local $c i32) (local $o i32) (local $src i32)
    (local $accv v128) (local $accs f32)
    (local.set $r (local.get $r0))
    (block $rd (loop $rl
      (br_if $rd (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $j0 (i32.load (i32.add (local.get $rp) (i32.shl (local.get $r) (i32.const 2)))))
      (local.set $j1 (i32.load offset=4 (i32.add (local.get $rp) (i32.shl (local.get $r) (i32.const 2)))))
      (local.set $o (i32.add (local.get $out) (i32.shl (i32.mul (local.get $r) (local.get $k)) (i32.const 2))))
      (local.set $c (i32.const 0))
      (block $vd (loop $vl
        (br_if $vd (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $k)))
        ${inner('v', '(v128.const f32x4 0 0 0 0)', 'v128.load', 'v128.load32_splat', 'v128.store', 4)}
        (br $vl)))
      (block $sd (loop $sl
        (br_if $sd (i32.ge_u (local.get $c) (local.get $k)))
        ${inner('s', '(f32.const 0)', 'f32.load', 'f32.load', 'f32.store', 1)}
        (br $sl)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl))))`;
}

/**
 * ewr(code, a, aStep, b, bStep, o, C, r0, r1): rows [r0, r1) of an [R, C] elementwise job, row r of
 * each operand starting r * step bytes after its first (0: a broadcast row), the output's rows
 * contiguous. One call for a chunk of rows, so short rows cost no call from JS each.
 */
function ewr() {
  return `
  (func (export "ewr") (param $code i32) (param $a i32) (param $as i32) (param $b i32) (param $bs i32) (param $o i32)
      (param $C i32) (param $r0 i32) (param $r1 i32)
    (local $r i32)
    (local.set $r (local.get $r0))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $r) (local.get $r1)))
      (call $ew (local.get $code)
        (i32.add (local.get $a) (i32.mul (local.get $r) (local.get $as)))
        (i32.add (local.get $b) (i32.mul (local.get $r) (local.get $bs)))
        (i32.add (local.get $o) (i32.shl (i32.mul (local.get $r) (local.get $C)) (i32.const 2)))
        (local.get $C))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $l))))`;
}

/**
 * The body of a row kernel: $n elements from $s to $d (both advanced), four at a time as
 * `vec` (a v128 value), then one at a time as `one` (stored with `store`).
 */
function runLoop(vec, one, store) {
  return `(block $vd (loop $vl
        (br_if $vd (i32.lt_u (local.get $n) (i32.const 4)))
        (v128.store (local.get $d) ${vec})
        (local.set $s (i32.add (local.get $s) (i32.const 16)))
        (local.set $d (i32.add (local.get $d) (i32.const 16)))
        (local.set $n (i32.sub (local.get $n) (i32.const 4)))
        (br $vl)))
      (block $sd (loop $sl
        (br_if $sd (i32.eqz (local.get $n)))
        (${store} (local.get $d) ${one})
        (local.set $s (i32.add (local.get $s) (i32.const 4)))
        (local.set $d (i32.add (local.get $d) (i32.const 4)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $sl)))`;
}

/**
 * gatherrows(x, ldx, idx, is, out, F, r0, r1): rows [r0, r1) of out (F floats a row, contiguous)
 * = the rows of x (ldx bytes apart, F adjacent floats) named by the int32 index (is bytes apart).
 * A bit-exact copy.
 */
function gatherrows() {
  return `
  (func (export "gatherrows") (param $x i32) (param $ldx i32) (param $idx i32) (param $is i32) (param $out i32)
      (param $F i32) (param $r0 i32) (param $r1 i32)
    (local $r i32) (local $s i32) (local $d i32) (local $n i32)
    (local.set $r (local.get $r0))
    (local.set $d (i32.add (local.get $out) (i32.shl (i32.mul (local.get $r0) (local.get $F)) (i32.const 2))))
    (block $rd (loop $rl
      (br_if $rd (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $s (i32.add (local.get $x) (i32.mul (i32.load (i32.add (local.get $idx) (i32.mul (local.get $r) (local.get $is)))) (local.get $ldx))))
      (local.set $n (local.get $F))
      ${runLoop('(v128.load (local.get $s))', '(i32.load (local.get $s))', 'i32.store')}
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl))))`;
}

/**
 * scatteraddrows(idx, is, src, lds, out, F, E, c0, c1): for e in [0, E), in order, columns
 * [c0, c1) of src row e (lds bytes apart) are added into out row idx[e] (F floats a row,
 * contiguous). A chunk owns a range of columns, so every element sums its rows in index order,
 * whatever the thread count: the same float32 roundings as a plain loop.
 */
function scatteraddrows() {
  return `
  (func (export "scatteraddrows") (param $idx i32) (param $is i32) (param $src i32) (param $lds i32) (param $out i32)
      (param $F i32) (param $E i32) (param $c0 i32) (param $c1 i32)
    (local $e i32) (local $s i32) (local $d i32) (local $n i32)
    (block $ed (loop $el
      (br_if $ed (i32.ge_u (local.get $e) (local.get $E)))
      (local.set $s (i32.add (i32.add (local.get $src) (i32.mul (local.get $e) (local.get $lds))) (i32.shl (local.get $c0) (i32.const 2))))
      (local.set $d (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.load (i32.add (local.get $idx) (i32.mul (local.get $e) (local.get $is)))) (local.get $F)) (local.get $c0)) (i32.const 2))))
      (local.set $n (i32.sub (local.get $c1) (local.get $c0)))
      ${runLoop('(f32x4.add (v128.load (local.get $d)) (v128.load (local.get $s)))', '(f32.add (f32.load (local.get $d)) (f32.load (local.get $s)))', 'f32.store')}
      (local.set $e (i32.add (local.get $e) (i32.const 1)))
      (br $el))))`;
}

/**
 * topk(x, cols, k, flip, vo, io, r0, r1): the k smallest (flip 0) or largest (flip -1) of rows
 * [r0, r1) of a contiguous float32 [rows, cols] x, in order, with their column ids: vo and io rows
 * are k wide. Elements are compared as unsigned sortable keys (NaN above +inf, all NaNs equal, -0
 * equal to +0; xor flip for largest); the best k so far stay sorted in place (keys in vo while the
 * row is scanned), and an element enters only if its key is strictly below the k-th, so equal keys
 * keep index order: the order of a stable sort. Four elements at a time are tested against the
 * k-th key first, so most of a long row costs one compare. vo gets the chosen elements at the end.
 */
function topk() {
  const vkey = `
        (local.set $b (v128.load (local.get $p)))
        (local.set $b (v128.bitselect (v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000) (local.get $b) (f32x4.ne (local.get $b) (local.get $b))))
        (local.set $b (v128.andnot (local.get $b) (i32x4.eq (local.get $b) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))))
        (local.set $b (v128.xor (v128.xor (local.get $b) (v128.or (i32x4.shr_s (local.get $b) (i32.const 31)) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))) (local.get $fv)))`;
  const lane = (L) => `
          (local.set $key (i32x4.extract_lane ${L} (local.get $b)))
          (if (i32.lt_u (local.get $key) (local.get $thr)) (then
            (local.set $filled (call $tput (local.get $kp) (local.get $ip) (local.get $key) (i32.add (local.get $c) (i32.const ${L})) (local.get $filled) (local.get $k)))
            (if (i32.eq (local.get $filled) (local.get $k)) (then (local.set $thr (i32.load (local.get $last)))))))`;
  return `
  (func $tkey (param $b i32) (param $flip i32) (result i32)
    (if (i32.gt_u (i32.and (local.get $b) (i32.const 0x7fffffff)) (i32.const 0x7f800000)) (then (local.set $b (i32.const 0x7fc00000))))
    (if (i32.eq (local.get $b) (i32.const 0x80000000)) (then (local.set $b (i32.const 0))))
    (i32.xor (i32.xor (local.get $b) (i32.or (i32.shr_s (local.get $b) (i32.const 31)) (i32.const 0x80000000))) (local.get $flip)))
  ;; Puts (key, c) into the sorted keys kp / ids ip: at the end while fewer than k are kept, else over
  ;; the k-th; shifted down past every kept key it is strictly below. Returns the new count.
  (func $tput (param $kp i32) (param $ip i32) (param $key i32) (param $c i32) (param $filled i32) (param $k i32) (result i32)
    (local $p i32) (local $q i32) (local $a i32)
    (if (i32.lt_u (local.get $filled) (local.get $k))
      (then (local.set $p (local.get $filled)) (local.set $filled (i32.add (local.get $filled) (i32.const 1))))
      (else (local.set $p (i32.sub (local.get $k) (i32.const 1)))))
    (block $d (loop $l
      (br_if $d (i32.eqz (local.get $p)))
      (local.set $a (i32.shl (local.get $p) (i32.const 2)))
      (local.set $q (i32.load offset=0 (i32.sub (i32.add (local.get $kp) (local.get $a)) (i32.const 4))))
      (br_if $d (i32.ge_u (local.get $key) (local.get $q)))
      (i32.store (i32.add (local.get $kp) (local.get $a)) (local.get $q))
      (i32.store (i32.add (local.get $ip) (local.get $a)) (i32.load (i32.sub (i32.add (local.get $ip) (local.get $a)) (i32.const 4))))
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (br $l)))
    (i32.store (i32.add (local.get $kp) (i32.shl (local.get $p) (i32.const 2))) (local.get $key))
    (i32.store (i32.add (local.get $ip) (i32.shl (local.get $p) (i32.const 2))) (local.get $c))
    (local.get $filled))
  (func (export "topk") (param $x i32) (param $cols i32) (param $k i32) (param $flip i32) (param $vo i32) (param $io i32)
      (param $r0 i32) (param $r1 i32)
    (local $r i32) (local $base i32) (local $kp i32) (local $ip i32) (local $c i32) (local $p i32) (local $filled i32)
    (local $thr i32) (local $key i32) (local $last i32) (local $j i32) (local $b v128) (local $fv v128)
    (local.set $fv (i32x4.splat (local.get $flip)))
    (local.set $r (local.get $r0))
    (block $rd (loop $rl
      (br_if $rd (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $base (i32.add (local.get $x) (i32.shl (i32.mul (local.get $r) (local.get $cols)) (i32.const 2))))
      (local.set $kp (i32.add (local.get $vo) (i32.shl (i32.mul (local.get $r) (local.get $k)) (i32.const 2))))
      (local.set $ip (i32.add (local.get $io) (i32.shl (i32.mul (local.get $r) (local.get $k)) (i32.const 2))))
      (local.set $last (i32.add (local.get $kp) (i32.shl (i32.sub (local.get $k) (i32.const 1)) (i32.const 2))))
      (local.set $filled (i32.const 0))
      (local.set $thr (i32.const -1))
      (local.set $c (i32.const 0))
      (local.set $p (local.get $base))
      (block $vd (loop $vl
        (br_if $vd (i32.gt_u (i32.add (local.get $c) (i32.const 4)) (local.get $cols)))
        ${vkey}
        (if (v128.any_true (i32x4.lt_u (local.get $b) (i32x4.splat (local.get $thr)))) (then
          ${[0, 1, 2, 3].map(lane).join('')}))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $vl)))
      (block $sd (loop $sl
        (br_if $sd (i32.ge_u (local.get $c) (local.get $cols)))
        (local.set $key (call $tkey (i32.load (local.get $p)) (local.get $flip)))
        (if (i32.lt_u (local.get $key) (local.get $thr)) (then
          (local.set $filled (call $tput (local.get $kp) (local.get $ip) (local.get $key) (local.get $c) (local.get $filled) (local.get $k)))
          (if (i32.eq (local.get $filled) (local.get $k)) (then (local.set $thr (i32.load (local.get $last)))))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $sl)))
      (local.set $j (i32.const 0))
      (block $od (loop $ol
        (br_if $od (i32.ge_u (local.get $j) (local.get $filled)))
        (i32.store (i32.add (local.get $kp) (i32.shl (local.get $j) (i32.const 2)))
          (i32.load (i32.add (local.get $base) (i32.shl (i32.load (i32.add (local.get $ip) (i32.shl (local.get $j) (i32.const 2)))) (i32.const 2)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $ol)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl))))`;
}

/**
 * segreduce(src, ptr, F, E, op, vo, ao, s0, s1): segments [s0, s1) of a contiguous float32 [E, F]
 * src, segment s the rows ptr[s]..ptr[s+1] (int32 pointers, clamped to [0, E]); op 0 sum, 1
 * mean, 2 max, 3 min. Values (float32, [S, F]) at vo; for max / min the winning row at ao (int32,
 * E for an empty segment) unless ao is 0. Each output accumulates its rows in order in float64
 * (sums two features at a time), like the plain loop: the same bits. Max / min take the first
 * extreme, and a NaN once seen.
 */
function segreduce() {
  return `
  (func (export "segreduce") (param $src i32) (param $ptr i32) (param $F i32) (param $E i32) (param $op i32) (param $vo i32)
      (param $ao i32) (param $s0 i32) (param $s1 i32)
    (local $s i32) (local $b i32) (local $e i32) (local $f i32) (local $j i32) (local $p i32) (local $ld i32) (local $o i32)
    (local $acc f64) (local $v f64) (local $arg i32) (local $acc2 v128)
    (local.set $ld (i32.shl (local.get $F) (i32.const 2)))
    (local.set $s (local.get $s0))
    (block $sd (loop $sl
      (br_if $sd (i32.ge_u (local.get $s) (local.get $s1)))
      (local.set $b (i32.load (i32.add (local.get $ptr) (i32.shl (local.get $s) (i32.const 2)))))
      (local.set $e (i32.load offset=4 (i32.add (local.get $ptr) (i32.shl (local.get $s) (i32.const 2)))))
      (if (i32.lt_s (local.get $b) (i32.const 0)) (then (local.set $b (i32.const 0))))
      (if (i32.gt_s (local.get $b) (local.get $E)) (then (local.set $b (local.get $E))))
      (if (i32.lt_s (local.get $e) (i32.const 0)) (then (local.set $e (i32.const 0))))
      (if (i32.gt_s (local.get $e) (local.get $E)) (then (local.set $e (local.get $E))))
      (local.set $o (i32.mul (local.get $s) (local.get $F)))
      (local.set $f (i32.const 0))
      (if (i32.le_u (local.get $op) (i32.const 1)) (then
        (block $vd (loop $vl
          (br_if $vd (i32.gt_u (i32.add (local.get $f) (i32.const 2)) (local.get $F)))
          (local.set $acc2 (v128.const f64x2 0 0))
          (local.set $p (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $b) (local.get $F)) (local.get $f)) (i32.const 2))))
          (local.set $j (local.get $b))
          (block $jd (loop $jl
            (br_if $jd (i32.ge_s (local.get $j) (local.get $e)))
            (local.set $acc2 (f64x2.add (local.get $acc2) (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p)))))
            (local.set $p (i32.add (local.get $p) (local.get $ld)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $jl)))
          (if (i32.and (i32.eq (local.get $op) (i32.const 1)) (i32.gt_s (local.get $e) (local.get $b)))
            (then (local.set $acc2 (f64x2.div (local.get $acc2) (f64x2.splat (f64.convert_i32_s (i32.sub (local.get $e) (local.get $b))))))))
          (f32.store (i32.add (local.get $vo) (i32.shl (i32.add (local.get $o) (local.get $f)) (i32.const 2))) (f32.demote_f64 (f64x2.extract_lane 0 (local.get $acc2))))
          (f32.store offset=4 (i32.add (local.get $vo) (i32.shl (i32.add (local.get $o) (local.get $f)) (i32.const 2))) (f32.demote_f64 (f64x2.extract_lane 1 (local.get $acc2))))
          (local.set $f (i32.add (local.get $f) (i32.const 2)))
          (br $vl)))))
      (block $fd (loop $fl
        (br_if $fd (i32.ge_u (local.get $f) (local.get $F)))
        (local.set $acc (f64.const 0))
        (local.set $arg (local.get $E))
        (local.set $p (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $b) (local.get $F)) (local.get $f)) (i32.const 2))))
        (local.set $j (local.get $b))
        (block $jd1 (loop $jl1
          (br_if $jd1 (i32.ge_s (local.get $j) (local.get $e)))
          (local.set $v (f64.promote_f32 (f32.load (local.get $p))))
          (if (i32.le_u (local.get $op) (i32.const 1))
            (then (local.set $acc (f64.add (local.get $acc) (local.get $v))))
            (else (if (i32.or (i32.eq (local.get $arg) (local.get $E))
                (i32.or (i32.and (f64.ne (local.get $v) (local.get $v)) (f64.eq (local.get $acc) (local.get $acc)))
                  (i32.and (f64.eq (local.get $acc) (local.get $acc))
                    (select (f64.gt (local.get $v) (local.get $acc)) (f64.lt (local.get $v) (local.get $acc)) (i32.eq (local.get $op) (i32.const 2))))))
              (then (local.set $acc (local.get $v)) (local.set $arg (local.get $j))))))
          (local.set $p (i32.add (local.get $p) (local.get $ld)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $jl1)))
        (if (i32.and (i32.eq (local.get $op) (i32.const 1)) (i32.gt_s (local.get $e) (local.get $b)))
          (then (local.set $acc (f64.div (local.get $acc) (f64.convert_i32_s (i32.sub (local.get $e) (local.get $b)))))))
        (f32.store (i32.add (local.get $vo) (i32.shl (i32.add (local.get $o) (local.get $f)) (i32.const 2))) (f32.demote_f64 (local.get $acc)))
        (if (local.get $ao) (then (i32.store (i32.add (local.get $ao) (i32.shl (i32.add (local.get $o) (local.get $f)) (i32.const 2))) (local.get $arg))))
        (local.set $f (i32.add (local.get $f) (i32.const 1)))
        (br $fl)))
      (local.set $s (i32.add (local.get $s) (i32.const 1)))
      (br $sl))))`;
}

/**
 * cdist(a, b, rowsA, rowsB, cols, mode, out, i0, i1): rows [i0, i1) of the flattened
 * [batch * rowsA, rowsB] distances between contiguous float32 [batch, rowsA, cols] and
 * [batch, rowsB, cols]; mode 0 p = 2, 1 p = 1, 2 p = inf, 3 p = 0. float64 accumulation over the
 * columns in order, as the plain loop: the same bits.
 */
function cdist() {
  const body = {
    0: '(local.set $acc (f64.add (local.get $acc) (f64.mul (local.get $d) (local.get $d))))',
    1: '(local.set $acc (f64.add (local.get $acc) (local.get $d)))',
    2: '(local.set $acc (select (local.get $d) (local.get $acc) (i32.or (f64.gt (local.get $d) (local.get $acc)) (f64.ne (local.get $d) (local.get $d)))))',
    3: '(local.set $acc (f64.add (local.get $acc) (f64.convert_i32_u (f64.ne (local.get $d) (f64.const 0)))))',
  };
  const nest = (m) => `
      (local.set $i (local.get $i0))
      (block $id${m} (loop $il${m}
        (br_if $id${m} (i32.ge_u (local.get $i) (local.get $i1)))
        (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $rb))))
        (local.set $bp (i32.add (local.get $b) (i32.mul (i32.mul (i32.div_u (local.get $i) (local.get $rowsA)) (local.get $rowsB)) (local.get $rb))))
        (local.set $op (i32.add (local.get $out) (i32.shl (i32.mul (local.get $i) (local.get $rowsB)) (i32.const 2))))
        (local.set $j (i32.const 0))
        (block $jd${m} (loop $jl${m}
          (br_if $jd${m} (i32.ge_u (local.get $j) (local.get $rowsB)))
          (local.set $acc (f64.const 0))
          (local.set $q (local.get $ap))
          (local.set $w (local.get $bp))
          (local.set $k (local.get $cols))
          (block $kd${m} (loop $kl${m}
            (br_if $kd${m} (i32.eqz (local.get $k)))
            (local.set $d (f64.abs (f64.sub (f64.promote_f32 (f32.load (local.get $q))) (f64.promote_f32 (f32.load (local.get $w))))))
            ${body[m]}
            (local.set $q (i32.add (local.get $q) (i32.const 4)))
            (local.set $w (i32.add (local.get $w) (i32.const 4)))
            (local.set $k (i32.sub (local.get $k) (i32.const 1)))
            (br $kl${m})))
          (f32.store (local.get $op) (f32.demote_f64 ${m === 0 ? '(f64.sqrt (local.get $acc))' : '(local.get $acc)'}))
          (local.set $bp (i32.add (local.get $bp) (local.get $rb)))
          (local.set $op (i32.add (local.get $op) (i32.const 4)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $jl${m})))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $il${m})))`;
  return `
  (func (export "cdist") (param $a i32) (param $b i32) (param $rowsA i32) (param $rowsB i32) (param $cols i32) (param $mode i32)
      (param $out i32) (param $i0 i32) (param $i1 i32)
    (local $i i32) (local $j i32) (local $k i32) (local $ap i32) (local $bp i32) (local $op i32) (local $q i32) (local $w i32) (local $rb i32)
    (local $acc f64) (local $d f64)
    (local.set $rb (i32.shl (local.get $cols) (i32.const 2)))
    (if (i32.eqz (local.get $mode)) (then ${nest(0)} (return)))
    (if (i32.eq (local.get $mode) (i32.const 1)) (then ${nest(1)} (return)))
    (if (i32.eq (local.get $mode) (i32.const 2)) (then ${nest(2)} (return)))
    ${nest(3)})`;
}

export function wat(fma) {
  return `(module
  (import "env" "memory" (memory 1 65536 shared))
  ${micro(fma, 'packed')}
  ${micro(fma, 'col')}
  ${micro(fma, 'row')}
  ${gemm()}
  ${pack()}
  ${philox()}
  ${ew()}
  ${rsum()}
  ${adam()}
  ${addruns()}
  ${csum()}
  ${spmm()}
  ${ewr()}
  ${im2col()}
  ${gatherrows()}
  ${scatteraddrows()}
  ${topk()}
  ${segreduce()}
  ${cdist()}
)`;
}

async function main() {
  const wabt = await wabtInit();
  const build = (fma) => {
    const mod = wabt.parseWat(fma ? 'kernels-relaxed.wat' : 'kernels.wat', wat(fma), { simd: true, threads: true, relaxed_simd: fma });
    // wabt's validator rejects shared memories whatever the features; the engine validates at compile.
    const { buffer } = mod.toBinary({});
    mod.destroy();
    // The relaxed build validates only where the engine has relaxed SIMD (Node 20: behind a flag).
    if (!fma && !WebAssembly.validate(buffer)) throw new Error('build-wasm: the module does not validate');
    return Buffer.from(buffer).toString('base64');
  };
  const out = `// Generated by scripts/build-wasm.mjs — do not edit. Rebuild with \`node scripts/build-wasm.mjs\`.
/** Rows (MR) and columns (NR) of the gemm micro-kernel; packed panels use these sizes. */
export const MR = ${MR};
export const NR = ${NR};
/** Byte address of the elementwise ops' two float64 parameters (p0, p1), below the scratch arena. */
export const EW_PARAMS = ${PARAMS};
/** The elementwise ops that read p0 / p1 at EW_PARAMS. */
export const EW_PARAM_OPS = ${JSON.stringify(PARAM_OPS)} as const;
/** The elementwise kernel's ops, by index (see EW_OPS in scripts/build-wasm.mjs). */
export const EW_OPS = ${JSON.stringify(EW_OPS.map(([name]) => name))} as const;
/** Plain WebAssembly SIMD build. */
export const KERNELS_SIMD = '${build(false)}';
/** Relaxed-SIMD build (fused multiply-add). */
export const KERNELS_RELAXED = '${build(true)}';
`;
  const target = fileURLToPath(new URL('../src/cpu/wasm/kernels.generated.ts', import.meta.url));
  if (process.argv.includes('--check')) {
    const current = readFileSync(target, 'utf8');
    if (current !== out) {
      console.error('src/cpu/wasm/kernels.generated.ts is stale: run node scripts/build-wasm.mjs');
      process.exit(1);
    }
    console.log('wasm kernels up to date');
    return;
  }
  writeFileSync(target, out);
  console.log(`wrote ${target}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
