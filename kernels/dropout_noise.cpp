#include "kernels/dropout_noise.h"

#include <ATen/Context.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/empty_strided.h>
#include <ATen/ops/ones.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

namespace lathe::kernels {

namespace {

// Elements per parallel task: 4 KiB of bits.
constexpr int64_t kGrainBytes = 4096;

// The value a kept element of the noise has, computed as the draw computes it (a tensor of ones divided
// by 1 - dropout), so that v * it rounds as v * noise does.
at::Tensor kept_value(const at::Tensor& like, double dropout) {
    return at::ones({1}, like.options().device(at::kCPU)).div_(1.0 - dropout);
}

// at::dropout's scaled noise drawn into `empty`: bernoulli(1 - p), then divided by 1 - p.
at::Tensor fill_with_dropout_noise(at::Tensor empty, double dropout, std::optional<at::Generator> generator) {
    return empty.bernoulli_(1.0 - dropout, std::move(generator)).div_(1.0 - dropout);
}

}  // namespace

at::Tensor draw_dropout_noise(const at::Tensor& x, double dropout, std::optional<at::Generator> generator) {
    return fill_with_dropout_noise(at::empty_like(x), dropout, std::move(generator));
}

at::Tensor dropout_noise_of(const at::Tensor& keep, const at::Tensor& x, double dropout) {
    return keep.to(x.scalar_type()).div_(1.0 - dropout);
}

// The loops below go through whole bytes (8 elements) without a branch per element, which the
// compiler vectorizes, and then the last byte's few elements. Packing and applying the bits must cost
// little beside at::dropout's own multiply: they are what the fused op adds to it (docs/kernels.md).
// On x86-64 the float32 loops are also built for AVX2 and picked at run time, as ATen picks its kernels.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LATHE_ALSO_FOR_AVX2 __attribute__((target_clones("avx2", "default")))
#else
#define LATHE_ALSO_FOR_AVX2
#endif

namespace {

// 8 flags, each 0 or 1, in the 8 bytes of a word -> flag k in bit k: the multiplier shifts byte k's
// bit to bit 56 + k, and no two products overlap there.
uint8_t byte_of_flags(const uint8_t (&flags)[8]) {
    uint64_t word;
    std::memcpy(&word, flags, 8);
    return static_cast<uint8_t>((word * 0x0102040810204080ull) >> 56);
}

template <typename scalar_t>
void pack_bytes(const scalar_t* in, uint8_t* out, int64_t begin, int64_t end) {
    const scalar_t zero(0);
    for (int64_t byte = begin; byte < end; ++byte) {
        uint8_t flags[8];
        for (int k = 0; k < 8; ++k) flags[k] = in[byte * 8 + k] != zero;
        out[byte] = byte_of_flags(flags);
    }
}

// v * (kept or 0) by the bits of each byte; the product with a zero, not a zero written, so NaN and
// infinity stay as v * noise leaves them.
template <typename scalar_t>
void times_bytes(const scalar_t* in, const uint8_t* mask, scalar_t* out, int64_t begin, int64_t end, scalar_t kept) {
    for (int64_t byte = begin; byte < end; ++byte) {
        for (int k = 0; k < 8; ++k) out[byte * 8 + k] = in[byte * 8 + k] * (((mask[byte] >> k) & 1) ? kept : scalar_t(0));
    }
}

// The float32 case in 8-lane vectors: the kept value masked by each lane's bit.
typedef float Floats8 __attribute__((vector_size(32)));
typedef int32_t Ints8 __attribute__((vector_size(32)));

template <>
LATHE_ALSO_FOR_AVX2 void times_bytes<float>(const float* in, const uint8_t* mask, float* out, int64_t begin, int64_t end, float kept) {
    const Ints8 lane_bit = {1, 2, 4, 8, 16, 32, 64, 128};
    Ints8 kept_lanes;
    int32_t kept_word;
    std::memcpy(&kept_word, &kept, 4);
    for (int k = 0; k < 8; ++k) kept_lanes[k] = kept_word;
    for (int64_t byte = begin; byte < end; ++byte) {
        const Ints8 set = (lane_bit & static_cast<int32_t>(mask[byte])) != 0;  // -1 where the bit is set
        const Ints8 factor_words = kept_lanes & set;
        Floats8 factor, x;
        std::memcpy(&factor, &factor_words, 32);
        std::memcpy(&x, in + byte * 8, 32);
        x *= factor;
        std::memcpy(out + byte * 8, &x, 32);
    }
}

}  // namespace

at::Tensor pack_kept_bits(const at::Tensor& noise) {
    TORCH_CHECK(noise.device().is_cpu(), "pack_kept_bits: CPU tensors only");
    const at::Tensor n = noise.contiguous();
    const int64_t count = n.numel(), bytes = (count + 7) / 8;
    at::Tensor bits = at::empty({bytes}, n.options().dtype(at::kByte));
    uint8_t* out = bits.data_ptr<uint8_t>();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, n.scalar_type(), "pack_kept_bits", [&] {
        const scalar_t* in = n.const_data_ptr<scalar_t>();
        at::parallel_for(0, count / 8, kGrainBytes, [&](int64_t begin, int64_t end) { pack_bytes(in, out, begin, end); });
        if (count % 8 != 0) {
            uint8_t flags[8] = {};
            for (int64_t i = count / 8 * 8; i < count; ++i) flags[i % 8] = in[i] != scalar_t(0);
            out[bytes - 1] = byte_of_flags(flags);
        }
    });
    return bits;
}

at::Tensor times_kept_bits(const at::Tensor& v, const at::Tensor& bits, double dropout, bool in_place) {
    TORCH_CHECK(v.device().is_cpu() && bits.scalar_type() == at::kByte && bits.numel() == (v.numel() + 7) / 8,
                "times_kept_bits: CPU v and its uint8 bits expected");
    TORCH_CHECK(!in_place || v.is_contiguous(), "times_kept_bits: in place needs a contiguous tensor");
    const at::Tensor in_t = v.contiguous();
    at::Tensor out_t = in_place ? v : at::empty_like(in_t);
    const int64_t count = in_t.numel();
    const uint8_t* mask = bits.const_data_ptr<uint8_t>();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, in_t.scalar_type(), "times_kept_bits", [&] {
        const scalar_t kept = kept_value(in_t, dropout).item<scalar_t>();
        const scalar_t* in = in_t.const_data_ptr<scalar_t>();
        scalar_t* out = out_t.mutable_data_ptr<scalar_t>();
        at::parallel_for(0, count / 8, kGrainBytes, [&](int64_t begin, int64_t end) { times_bytes(in, mask, out, begin, end, kept); });
        for (int64_t i = count / 8 * 8; i < count; ++i) out[i] = in[i] * (((mask[i / 8] >> (i % 8)) & 1) ? kept : scalar_t(0));
    });
    return out_t;
}

at::Tensor drop_remembering_noise(torch::autograd::AutogradContext& ctx, const at::Tensor& x, double dropout) {
    if (x.device().is_cpu()) {
        at::Tensor noise = draw_dropout_noise(x, dropout);
        ctx.saved_data["kept_bits"] = pack_kept_bits(noise);
        return x * noise;
    }
    at::Generator generator = at::globalContext().defaultGenerator(x.device());
    {
        std::lock_guard<std::mutex> lock(generator.mutex());
        ctx.saved_data["generator"] = generator.clone();
    }
    at::Tensor noise = draw_dropout_noise(x, dropout);
    // The draw fills the noise in its memory order, which follows x's strides (empty_like): backward
    // draws into the same layout, whatever the layout of the tensor it multiplies.
    ctx.saved_data["noise_strides"] = noise.strides().vec();
    return x * noise;
}

at::Tensor noise_times(torch::autograd::AutogradContext& ctx, const at::Tensor& v, double dropout, bool in_place) {
    if (ctx.saved_data.count("kept_bits") > 0) return times_kept_bits(v, ctx.saved_data["kept_bits"].toTensor(), dropout, in_place);
    // A fresh copy of the generator each time, so that a second backward (retain_graph) draws the same noise.
    const std::vector<int64_t> strides = ctx.saved_data["noise_strides"].toIntVector();
    at::Tensor noise =
        fill_with_dropout_noise(at::empty_strided(v.sizes(), strides, v.options()), dropout, ctx.saved_data["generator"].toGenerator().clone());
    return in_place ? v.mul_(noise) : v * noise;
}

}  // namespace lathe::kernels
