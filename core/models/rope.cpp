#include "core/models/rope.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/clamp.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/where.h>

#include <algorithm>
#include <cmath>

#include "core/util/error.h"
#include "kernels/dispatch.h"

namespace lathe {

namespace {

// 1 / base^(2i/dim), computed like transformers: int64 arange cast to float32, then float32 pow.
at::Tensor base_inv_freq(double base, int64_t dim, c10::Device device) {
    at::Tensor exponents = at::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) / static_cast<double>(dim);
    return (1.0 / at::pow(base, exponents)).to(device);
}

double yarn_mscale(double scale, double mscale) {
    return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

}  // namespace

RotaryEmbedding::RotaryEmbedding(const ModelConfig& config, c10::Device device) : rope_(config.rope) {
    rotary_dim_ = static_cast<int64_t>(config.head_dim * rope_.partial_rotary_factor);
    max_position_embeddings_ = config.max_position_embeddings;
    const double base = rope_.theta;
    const int64_t dim = rotary_dim_;

    if (rope_.type == "default" || rope_.type == "dynamic") {
        // dynamic starts as default and rescales the base in cos_sin() once positions pass the limit.
        inv_freq_ = base_inv_freq(base, dim, device);
    } else if (rope_.type == "linear") {
        inv_freq_ = base_inv_freq(base, dim, device) / rope_.factor;
    } else if (rope_.type == "llama3") {
        at::Tensor inv = base_inv_freq(base, dim, at::kCPU);
        const double factor = rope_.factor, low = rope_.low_freq_factor, high = rope_.high_freq_factor;
        const double old_len = static_cast<double>(rope_.original_max_position_embeddings);
        const double low_freq_wavelen = old_len / low, high_freq_wavelen = old_len / high;
        at::Tensor wavelen = 2 * M_PI / inv;
        at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv / factor, inv);
        at::Tensor smooth = (old_len / wavelen - low) / (high - low);
        at::Tensor smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
        at::Tensor is_medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
        inv_freq_ = at::where(is_medium, smoothed, scaled).to(device);
    } else if (rope_.type == "yarn") {
        // config.cpp has resolved `factor` (given, or max_position_embeddings / original when absent).
        const double factor = rope_.factor;
        const double original_max = static_cast<double>(rope_.original_max_position_embeddings > 0
                                                            ? rope_.original_max_position_embeddings
                                                            : config.max_position_embeddings);
        if (rope_.attention_factor) {
            attention_scaling_ = *rope_.attention_factor;
        } else if (rope_.mscale && rope_.mscale_all_dim) {
            attention_scaling_ = yarn_mscale(factor, *rope_.mscale) / yarn_mscale(factor, *rope_.mscale_all_dim);
        } else {
            attention_scaling_ = yarn_mscale(factor, 1.0);
        }
        auto correction_dim = [&](double rotations) {
            return (dim * std::log(original_max / (rotations * 2 * M_PI))) / (2 * std::log(base));
        };
        double lo = correction_dim(rope_.beta_fast), hi = correction_dim(rope_.beta_slow);
        if (rope_.truncate) {
            lo = std::floor(lo);
            hi = std::ceil(hi);
        }
        lo = std::max(lo, 0.0);
        hi = std::min(hi, static_cast<double>(dim - 1));
        if (lo == hi) hi += 0.001;
        at::Tensor ramp = at::clamp((at::arange(dim / 2, at::TensorOptions().dtype(at::kFloat)) - lo) / (hi - lo), 0, 1);
        at::Tensor extrapolation_factor = 1 - ramp;
        at::Tensor pos_freqs = at::pow(base, at::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) / static_cast<double>(dim));
        at::Tensor inv_extrapolation = 1.0 / pos_freqs;
        at::Tensor inv_interpolation = 1.0 / (factor * pos_freqs);
        inv_freq_ = (inv_interpolation * (1 - extrapolation_factor) + inv_extrapolation * extrapolation_factor).to(device);
    } else {
        LATHE_ASSERT(false);  // config.cpp rejects other types
    }
}

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::cos_sin(const at::Tensor& position_ids, at::ScalarType dtype) const {
    at::Tensor inv = inv_freq_;
    if (rope_.type == "dynamic") {
        int64_t seq_len = position_ids.max().item<int64_t>() + 1;
        if (seq_len > max_position_embeddings_) {
            double ratio = rope_.factor * static_cast<double>(seq_len) / max_position_embeddings_ - (rope_.factor - 1);
            double base = rope_.theta * std::pow(ratio, static_cast<double>(rotary_dim_) / (rotary_dim_ - 2));
            inv = base_inv_freq(base, rotary_dim_, inv_freq_.device());
        }
    }
    // [B, T, 1] * [D/2] -> [B, T, D/2]; one product per element, as exact as transformers' outer matmul.
    at::Tensor freqs = position_ids.to(at::kFloat).unsqueeze(-1) * inv;
    at::Tensor emb = at::cat({freqs, freqs}, -1);
    at::Tensor cos = emb.cos(), sin = emb.sin();
    if (attention_scaling_ != 1.0) {
        cos = cos * attention_scaling_;
        sin = sin * attention_scaling_;
    }
    return {cos.to(dtype), sin.to(dtype)};
}

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    return kernels::apply_rotary(x, cos, sin);
}

}  // namespace lathe
