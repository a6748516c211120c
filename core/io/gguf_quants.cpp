#include "core/io/gguf_quants.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/util/error.h"

// The quantizers below mirror ggml-quants.c's *_ref functions. The order of float operations matters
// for bit-exactness: keep each expression as ggml writes it (and this file is built without -ffast-math
// or FMA contraction, like ggml-base).

namespace lathe {

namespace {

constexpr int QK = 32;     // block size of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0
constexpr int QK_K = 256;  // super-block size of the K quants

uint32_t bits_of(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
float float_of(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
uint16_t load_u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
void store_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
float load_half(const uint8_t* p) { return fp16_to_fp32(load_u16(p)); }
void store_half(uint8_t* p, float f) { store_u16(p, fp32_to_fp16(f)); }

// ggml's nearest_int: round half to even through the float mantissa (|fval| <= 4194303).
int nearest_int(float fval) {
    float val = fval + 12582912.f;
    int i;
    std::memcpy(&i, &val, sizeof(int));
    return (i & 0x007fffff) - 0x00400000;
}

// ---------------------------------------------------------------------------------------------------
// Blocks of 32

void quantize_q8_0(const float* x, uint8_t* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK, y += 34) {
        float amax = 0.0f;
        for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        store_half(y, d);
        for (int j = 0; j < QK; ++j) y[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::roundf(x[j] * id)));
    }
}

void quantize_q4_0(const float* x, uint8_t* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK, y += 18) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK; ++j) {
            if (amax < std::fabs(x[j])) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        store_half(y, d);
        for (int j = 0; j < QK / 2; ++j) {
            const float x0 = x[j] * id;
            const float x1 = x[QK / 2 + j] * id;
            const uint8_t xi0 = std::min<int8_t>(15, static_cast<int8_t>(x0 + 8.5f));
            const uint8_t xi1 = std::min<int8_t>(15, static_cast<int8_t>(x1 + 8.5f));
            y[2 + j] = xi0 | (xi1 << 4);
        }
    }
}

void quantize_q4_1(const float* x, uint8_t* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK, y += 20) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < QK; ++j) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / ((1 << 4) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        store_half(y, d);
        store_half(y + 2, min);
        for (int j = 0; j < QK / 2; ++j) {
            const float x0 = (x[j] - min) * id;
            const float x1 = (x[QK / 2 + j] - min) * id;
            const uint8_t xi0 = std::min<int8_t>(15, static_cast<int8_t>(x0 + 0.5f));
            const uint8_t xi1 = std::min<int8_t>(15, static_cast<int8_t>(x1 + 0.5f));
            y[4 + j] = xi0 | (xi1 << 4);
        }
    }
}

void quantize_q5_0(const float* x, uint8_t* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK, y += 22) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK; ++j) {
            if (amax < std::fabs(x[j])) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        const float d = max / -16;
        const float id = d ? 1.0f / d : 0.0f;
        store_half(y, d);
        uint32_t qh = 0;
        for (int j = 0; j < QK / 2; ++j) {
            const float x0 = x[j] * id;
            const float x1 = x[QK / 2 + j] * id;
            const uint8_t xi0 = std::min<int8_t>(31, static_cast<int8_t>(x0 + 16.5f));
            const uint8_t xi1 = std::min<int8_t>(31, static_cast<int8_t>(x1 + 16.5f));
            y[6 + j] = (xi0 & 0x0F) | ((xi1 & 0x0F) << 4);
            qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
            qh |= ((xi1 & 0x10u) >> 4) << (j + QK / 2);
        }
        std::memcpy(y + 2, &qh, 4);
    }
}

void quantize_q5_1(const float* x, uint8_t* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK, y += 24) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < QK; ++j) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / ((1 << 5) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        store_half(y, d);
        store_half(y + 2, min);
        uint32_t qh = 0;
        for (int j = 0; j < QK / 2; ++j) {
            const float x0 = (x[j] - min) * id;
            const float x1 = (x[QK / 2 + j] - min) * id;
            const uint8_t xi0 = static_cast<uint8_t>(x0 + 0.5f);
            const uint8_t xi1 = static_cast<uint8_t>(x1 + 0.5f);
            y[8 + j] = (xi0 & 0x0F) | ((xi1 & 0x0F) << 4);
            qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
            qh |= ((xi1 & 0x10u) >> 4) << (j + QK / 2);
        }
        std::memcpy(y + 4, &qh, 4);
    }
}

void dequantize_q8_0(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 34, y += QK) {
        const float d = load_half(x);
        for (int j = 0; j < QK; ++j) y[j] = static_cast<int8_t>(x[2 + j]) * d;
    }
}

void dequantize_q4_0(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 18, y += QK) {
        const float d = load_half(x);
        for (int j = 0; j < QK / 2; ++j) {
            y[j] = ((x[2 + j] & 0x0F) - 8) * d;
            y[j + QK / 2] = ((x[2 + j] >> 4) - 8) * d;
        }
    }
}

void dequantize_q4_1(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 20, y += QK) {
        const float d = load_half(x);
        const float m = load_half(x + 2);
        for (int j = 0; j < QK / 2; ++j) {
            y[j] = (x[4 + j] & 0x0F) * d + m;
            y[j + QK / 2] = (x[4 + j] >> 4) * d + m;
        }
    }
}

void dequantize_q5_0(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 22, y += QK) {
        const float d = load_half(x);
        uint32_t qh;
        std::memcpy(&qh, x + 2, 4);
        for (int j = 0; j < QK / 2; ++j) {
            const uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
            const uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
            y[j] = (((x[6 + j] & 0x0F) | xh_0) - 16) * d;
            y[j + QK / 2] = (((x[6 + j] >> 4) | xh_1) - 16) * d;
        }
    }
}

void dequantize_q5_1(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 24, y += QK) {
        const float d = load_half(x);
        const float m = load_half(x + 2);
        uint32_t qh;
        std::memcpy(&qh, x + 4, 4);
        for (int j = 0; j < QK / 2; ++j) {
            const uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
            const uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
            y[j] = ((x[8 + j] & 0x0F) | xh_0) * d + m;
            y[j + QK / 2] = ((x[8 + j] >> 4) | xh_1) * d + m;
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// K quants: super-blocks of 256

// make_qkx2_quants: scale and min for a group of n values with levels 0..nmax (ggml-quants.c).
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
    float min = x[0];
    float max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * (x[i] - min));
        L[i] = std::max(0, std::min(nmax, l));
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        float w = weights[i];
        best_error += w * diff;
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * (x[i] - min));
            l = std::max(0, std::min(nmax, l));
            Laux[i] = l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; ++i) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? std::fabs(diff) : diff * diff;
                float w = weights[i];
                cur_error += w * diff;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; ++i) L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

// make_qx_quants with rmse_type 1 and no importance weights (what quantize_row_q6_K_ref uses).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
    float max = 0;
    float amax = 0;
    for (int i = 0; i < n; ++i) {
        float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < 1e-15f) {  // GROUP_MAX_EPS: all zero
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0;
    float suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * x[i]);
        l = std::max(-nmax, std::min(nmax - 1, l));
        L[i] = l + nmax;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * x[i]);
            l = std::max(-nmax, std::min(nmax - 1, l));
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) {
                int l = nearest_int(iscale * x[i]);
                L[i] = nmax + std::max(-nmax, std::min(nmax - 1, l));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
    }
}

// Shared by Q4_K and Q5_K: 8 groups of 32 with 6-bit scales and mins. Writes d, dmin and scales[12]
// at y and the levels (0..nmax) into L.
void quantize_k_scales(const float* x, uint8_t* y, uint8_t* L, int nmax, float rmin, int nstep) {
    uint8_t Laux[32];
    float weights[32];
    float mins[QK_K / 32];
    float scales[QK_K / 32];
    uint8_t* sc = y + 4;
    float max_scale = 0;
    float max_min = 0;
    for (int j = 0; j < QK_K / 32; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = std::sqrt(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
        scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep, false);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
        uint8_t lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
        ls = std::min<uint8_t>(63, ls);
        lm = std::min<uint8_t>(63, lm);
        if (j < 4) {
            sc[j] = ls;
            sc[j + 4] = lm;
        } else {
            sc[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
            sc[j - 4] |= ((ls >> 4) << 6);
            sc[j - 0] |= ((lm >> 4) << 6);
        }
    }
    store_half(y, max_scale / 63.f);
    store_half(y + 2, max_min / 63.f);

    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t s, m;
        get_scale_min_k4(j, sc, &s, &m);
        const float d = load_half(y) * s;
        if (!d) continue;
        const float dm = load_half(y + 2) * m;
        for (int ii = 0; ii < 32; ++ii) {
            int l = nearest_int((x[32 * j + ii] + dm) / d);
            l = std::max(0, std::min(nmax, l));
            L[32 * j + ii] = l;
        }
    }
}

// block_q4_K: d, dmin (fp16), scales[12], qs[128] = 144 bytes.
void quantize_q4_k(const float* x, uint8_t* y, int64_t nb) {
    uint8_t L[QK_K];
    for (int64_t i = 0; i < nb; ++i, x += QK_K, y += 144) {
        std::memset(y, 0, 144);
        quantize_k_scales(x, y, L, 15, -1.f, 20);
        uint8_t* q = y + 16;
        for (int j = 0; j < QK_K; j += 64) {
            for (int l = 0; l < 32; ++l) q[l] = L[j + l] | (L[j + l + 32] << 4);
            q += 32;
        }
    }
}

// block_q5_K: d, dmin, scales[12], qh[32], qs[128] = 176 bytes.
void quantize_q5_k(const float* x, uint8_t* y, int64_t nb) {
    uint8_t L[QK_K];
    for (int64_t i = 0; i < nb; ++i, x += QK_K, y += 176) {
        std::memset(y, 0, 176);
        quantize_k_scales(x, y, L, 31, -0.5f, 15);
        uint8_t* qh = y + 16;
        uint8_t* ql = y + 48;
        uint8_t m1 = 1, m2 = 2;
        for (int n = 0; n < QK_K; n += 64) {
            for (int j = 0; j < 32; ++j) {
                int l1 = L[n + j];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] |= m1;
                }
                int l2 = L[n + j + 32];
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] |= m2;
                }
                ql[j] = l1 | (l2 << 4);
            }
            m1 <<= 2;
            m2 <<= 2;
            ql += 32;
        }
    }
}

// block_q6_K: ql[128], qh[64], scales[16] (int8), d (fp16) = 210 bytes.
void quantize_q6_k(const float* x, uint8_t* y, int64_t nb) {
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (int64_t i = 0; i < nb; ++i, x += QK_K, y += 210) {
        float max_scale = 0;
        float max_abs_scale = 0;
        for (int ib = 0; ib < QK_K / 16; ++ib) {
            const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            scales[ib] = scale;
            const float abs_scale = std::fabs(scale);
            if (abs_scale > max_abs_scale) {
                max_abs_scale = abs_scale;
                max_scale = scale;
            }
        }
        std::memset(y, 0, 210);
        if (max_abs_scale < 1e-15f) {
            store_half(y + 208, 0.f);
            continue;
        }
        int8_t* sc = reinterpret_cast<int8_t*>(y + 192);
        float iscale = -128.f / max_scale;
        store_half(y + 208, 1 / iscale);
        for (int ib = 0; ib < QK_K / 16; ++ib) sc[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
        for (int j = 0; j < QK_K / 16; ++j) {
            float d = load_half(y + 208) * sc[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ++ii) {
                int l = nearest_int(x[16 * j + ii] / d);
                l = std::max(-32, std::min(31, l));
                L[16 * j + ii] = l + 32;
            }
        }
        uint8_t* ql = y;
        uint8_t* qh = y + 128;
        for (int j = 0; j < QK_K; j += 128) {
            for (int l = 0; l < 32; ++l) {
                const uint8_t q1 = L[j + l + 0] & 0xF;
                const uint8_t q2 = L[j + l + 32] & 0xF;
                const uint8_t q3 = L[j + l + 64] & 0xF;
                const uint8_t q4 = L[j + l + 96] & 0xF;
                ql[l + 0] = q1 | (q3 << 4);
                ql[l + 32] = q2 | (q4 << 4);
                qh[l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                        ((L[j + l + 96] >> 4) << 6);
            }
            ql += 64;
            qh += 32;
        }
    }
}

void dequantize_q4_k(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 144) {
        const float d = load_half(x);
        const float min = load_half(x + 2);
        const uint8_t* scales = x + 4;
        const uint8_t* q = x + 16;
        int is = 0;
        uint8_t sc, m;
        for (int j = 0; j < QK_K; j += 64) {
            get_scale_min_k4(is + 0, scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            get_scale_min_k4(is + 1, scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
            q += 32;
            is += 2;
        }
    }
}

void dequantize_q5_k(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 176) {
        const float d = load_half(x);
        const float min = load_half(x + 2);
        const uint8_t* scales = x + 4;
        const uint8_t* qh = x + 16;
        const uint8_t* ql = x + 48;
        int is = 0;
        uint8_t sc, m;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < QK_K; j += 64) {
            get_scale_min_k4(is + 0, scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            get_scale_min_k4(is + 1, scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            ql += 32;
            is += 2;
            u1 <<= 2;
            u2 <<= 2;
        }
    }
}

void dequantize_q6_k(const uint8_t* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += 210) {
        const float d = load_half(x + 208);
        const uint8_t* ql = x;
        const uint8_t* qh = x + 128;
        const int8_t* sc = reinterpret_cast<const int8_t*>(x + 192);
        for (int n = 0; n < QK_K; n += 128) {
            for (int l = 0; l < 32; ++l) {
                int is = l / 16;
                const int8_t q1 = static_cast<int8_t>((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int8_t q2 = static_cast<int8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int8_t q3 = static_cast<int8_t>((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int8_t q4 = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

}  // namespace

// ggml_compute_fp32_to_fp16 (ggml-impl.h): the float arithmetic does the rounding to nearest even.
uint16_t fp32_to_fp16(float f) {
    const float scale_to_inf = 0x1.0p+112f;
    const float scale_to_zero = 0x1.0p-110f;
    float base = (std::fabs(f) * scale_to_inf) * scale_to_zero;
    const uint32_t w = bits_of(f);
    const uint32_t shl1_w = w + w;
    const uint32_t sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    base = float_of((bias >> 1) + 0x07800000u) + base;
    const uint32_t bits = bits_of(base);
    const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
    const uint32_t mantissa_bits = bits & 0x00000FFFu;
    const uint32_t nonsign = exp_bits + mantissa_bits;
    return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

float fp16_to_fp32(uint16_t h) {
    const uint32_t w = static_cast<uint32_t>(h) << 16;
    const uint32_t sign = w & 0x80000000u;
    const uint32_t two_w = w + w;
    const uint32_t exp_offset = 0xE0u << 23;
    const float exp_scale = 0x1.0p-112f;
    const float normalized_value = float_of((two_w >> 4) + exp_offset) * exp_scale;
    const uint32_t magic_mask = 126u << 23;
    const float magic_bias = 0.5f;
    const float denormalized_value = float_of((two_w >> 17) | magic_mask) - magic_bias;
    const uint32_t denormalized_cutoff = 1u << 27;
    const uint32_t result = sign | (two_w < denormalized_cutoff ? bits_of(denormalized_value) : bits_of(normalized_value));
    return float_of(result);
}

// ggml_compute_fp32_to_bf16: NaN forced quiet, otherwise round to nearest even.
uint16_t fp32_to_bf16(float f) {
    uint32_t u = bits_of(f);
    if ((u & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((u >> 16) | 64);
    return static_cast<uint16_t>((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

float bf16_to_fp32(uint16_t h) { return float_of(static_cast<uint32_t>(h) << 16); }

bool can_dequantize(GgmlType type) {
    switch (type) {
        case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: case GgmlType::Q8_0: case GgmlType::Q4_0:
        case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K:
        case GgmlType::Q6_K: return true;
        default: return false;
    }
}

bool can_quantize(GgmlType type) { return can_dequantize(type); }

void dequantize_row(GgmlType type, const uint8_t* x, float* y, int64_t n) {
    const GgmlTypeTraits* t = ggml_type_traits(static_cast<uint32_t>(type));
    LATHE_ASSERT(t && n % t->block_size == 0);
    const int64_t nb = n / t->block_size;
    switch (type) {
        case GgmlType::F32: std::memcpy(y, x, n * 4); break;
        case GgmlType::F16: for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_fp32(load_u16(x + 2 * i)); break;
        case GgmlType::BF16: for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_fp32(load_u16(x + 2 * i)); break;
        case GgmlType::Q8_0: dequantize_q8_0(x, y, nb); break;
        case GgmlType::Q4_0: dequantize_q4_0(x, y, nb); break;
        case GgmlType::Q4_1: dequantize_q4_1(x, y, nb); break;
        case GgmlType::Q5_0: dequantize_q5_0(x, y, nb); break;
        case GgmlType::Q5_1: dequantize_q5_1(x, y, nb); break;
        case GgmlType::Q4_K: dequantize_q4_k(x, y, nb); break;
        case GgmlType::Q5_K: dequantize_q5_k(x, y, nb); break;
        case GgmlType::Q6_K: dequantize_q6_k(x, y, nb); break;
        default: LATHE_ASSERT(false);
    }
}

void quantize_row(GgmlType type, const float* x, uint8_t* y, int64_t n) {
    const GgmlTypeTraits* t = ggml_type_traits(static_cast<uint32_t>(type));
    LATHE_ASSERT(t && n % t->block_size == 0);
    const int64_t nb = n / t->block_size;
    switch (type) {
        case GgmlType::F32: std::memcpy(y, x, n * 4); break;
        case GgmlType::F16: for (int64_t i = 0; i < n; ++i) store_u16(y + 2 * i, fp32_to_fp16(x[i])); break;
        case GgmlType::BF16: for (int64_t i = 0; i < n; ++i) store_u16(y + 2 * i, fp32_to_bf16(x[i])); break;
        case GgmlType::Q8_0: quantize_q8_0(x, y, nb); break;
        case GgmlType::Q4_0: quantize_q4_0(x, y, nb); break;
        case GgmlType::Q4_1: quantize_q4_1(x, y, nb); break;
        case GgmlType::Q5_0: quantize_q5_0(x, y, nb); break;
        case GgmlType::Q5_1: quantize_q5_1(x, y, nb); break;
        case GgmlType::Q4_K: quantize_q4_k(x, y, nb); break;
        case GgmlType::Q5_K: quantize_q5_k(x, y, nb); break;
        case GgmlType::Q6_K: quantize_q6_k(x, y, nb); break;
        default: LATHE_ASSERT(false);
    }
}

}  // namespace lathe
