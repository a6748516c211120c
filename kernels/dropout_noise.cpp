#include "kernels/dropout_noise.h"

#include <ATen/Context.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/ones.h>

#include <mutex>

namespace lathe::kernels {

namespace {

// Elements per parallel task: 4 KiB of bits.
constexpr int64_t kGrainBytes = 4096;

// The value a kept element of the noise has, computed as the draw computes it (a tensor of ones divided
// by 1 - dropout), so that v * it rounds as v * noise does.
at::Tensor kept_value(const at::Tensor& like, double dropout) {
    return at::ones({1}, like.options().device(at::kCPU)).div_(1.0 - dropout);
}

}  // namespace

at::Tensor draw_dropout_noise(const at::Tensor& x, double dropout, std::optional<at::Generator> generator) {
    return at::empty_like(x).bernoulli_(1.0 - dropout, std::move(generator)).div_(1.0 - dropout);
}

at::Tensor dropout_noise_of(const at::Tensor& keep, const at::Tensor& x, double dropout) {
    return keep.to(x.scalar_type()).div_(1.0 - dropout);
}

at::Tensor pack_kept_bits(const at::Tensor& noise) {
    TORCH_CHECK(noise.device().is_cpu(), "pack_kept_bits: CPU tensors only");
    const at::Tensor n = noise.contiguous();
    const int64_t count = n.numel(), bytes = (count + 7) / 8;
    at::Tensor bits = at::empty({bytes}, n.options().dtype(at::kByte));
    uint8_t* out = bits.data_ptr<uint8_t>();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, n.scalar_type(), "pack_kept_bits", [&] {
        const scalar_t* in = n.const_data_ptr<scalar_t>();
        const scalar_t zero(0);
        at::parallel_for(0, bytes, kGrainBytes, [&](int64_t begin, int64_t end) {
            for (int64_t byte = begin; byte < end; ++byte) {
                const int64_t first = byte * 8, last = std::min(first + 8, count);
                uint8_t b = 0;
                for (int64_t i = first; i < last; ++i) b |= static_cast<uint8_t>(in[i] != zero) << (i - first);
                out[byte] = b;
            }
        });
    });
    return bits;
}

at::Tensor times_kept_bits(const at::Tensor& v, const at::Tensor& bits, double dropout, bool in_place) {
    TORCH_CHECK(v.device().is_cpu() && bits.scalar_type() == at::kByte && bits.numel() == (v.numel() + 7) / 8,
                "times_kept_bits: CPU v and its uint8 bits expected");
    TORCH_CHECK(!in_place || v.is_contiguous(), "times_kept_bits: in place needs a contiguous tensor");
    const at::Tensor in_t = v.contiguous();
    at::Tensor out_t = in_place ? v : at::empty_like(in_t);
    const int64_t count = in_t.numel(), bytes = bits.numel();
    const uint8_t* mask = bits.const_data_ptr<uint8_t>();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, in_t.scalar_type(), "times_kept_bits", [&] {
        // The product with a zero, not a zero written: NaN and infinity stay as v * noise leaves them.
        const scalar_t kept = kept_value(in_t, dropout).item<scalar_t>(), dropped(0);
        const scalar_t* in = in_t.const_data_ptr<scalar_t>();
        scalar_t* out = out_t.mutable_data_ptr<scalar_t>();
        at::parallel_for(0, bytes, kGrainBytes, [&](int64_t begin, int64_t end) {
            for (int64_t byte = begin; byte < end; ++byte) {
                const int64_t first = byte * 8, last = std::min(first + 8, count);
                const uint8_t b = mask[byte];
                for (int64_t i = first; i < last; ++i) out[i] = in[i] * (((b >> (i - first)) & 1) ? kept : dropped);
            }
        });
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
    return x * draw_dropout_noise(x, dropout);
}

at::Tensor noise_times(torch::autograd::AutogradContext& ctx, const at::Tensor& v, double dropout, bool in_place) {
    if (ctx.saved_data.count("kept_bits") > 0) return times_kept_bits(v, ctx.saved_data["kept_bits"].toTensor(), dropout, in_place);
    // A fresh copy of the generator each time, so that a second backward (retain_graph) draws the same noise.
    at::Tensor noise = draw_dropout_noise(v, dropout, ctx.saved_data["generator"].toGenerator().clone());
    return in_place ? v.mul_(noise) : v * noise;
}

}  // namespace lathe::kernels
