#include "core/models/varlen_attention.h"

#include <ATen/ops/_flash_attention_forward.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/scaled_dot_product_attention.h>

#include <algorithm>

#ifdef LATHE_TORCH_HAS_CUDA
#include <ATen/native/transformers/cuda/sdp_utils.h>
#endif

namespace lathe {

std::optional<VarlenBatch> varlen_batch(const at::Tensor& attention_mask, const at::Tensor& sequence_ids, int64_t batch,
                                        int64_t time, c10::Device device, VarlenKernel kernel) {
    at::Tensor mask = attention_mask.defined() ? attention_mask.to(at::kCPU).to(at::kLong).contiguous() : at::Tensor();
    at::Tensor ids = sequence_ids.defined() ? sequence_ids.to(at::kCPU).to(at::kLong).contiguous() : at::Tensor();
    const int64_t* m = mask.defined() ? mask.data_ptr<int64_t>() : nullptr;
    const int64_t* s = ids.defined() ? ids.data_ptr<int64_t>() : nullptr;

    VarlenBatch out;
    out.batch = batch;
    out.time = time;
    out.kernel = kernel;
    std::vector<int64_t> index;
    index.reserve(static_cast<size_t>(batch * time));
    for (int64_t b = 0; b < batch; ++b) {
        std::vector<int64_t> closed;  // sequence ids already ended in this row
        bool open = false;
        int64_t open_id = 0;
        auto close = [&] {
            if (!open) return;
            closed.push_back(open_id);
            out.lengths.push_back(static_cast<int64_t>(index.size()) - out.starts.back());
            open = false;
        };
        for (int64_t t = 0; t < time; ++t) {
            const int64_t flat = b * time + t;
            if (m && m[flat] == 0) {
                close();
                continue;
            }
            const int64_t id = s ? s[flat] : 0;
            if (!open || id != open_id) {
                close();
                // A sequence that resumes after padding or another sequence attends across the gap in
                // the dense path; one run per sequence cannot say that.
                if (std::find(closed.begin(), closed.end(), id) != closed.end()) return std::nullopt;
                open = true;
                open_id = id;
                out.starts.push_back(static_cast<int64_t>(index.size()));
            }
            index.push_back(flat);
        }
        close();
    }
    if (index.empty()) return std::nullopt;
    out.total = static_cast<int64_t>(index.size());
    out.max_length = *std::max_element(out.lengths.begin(), out.lengths.end());
    out.token_index_host = at::empty({out.total}, at::TensorOptions().dtype(at::kLong));
    std::copy(index.begin(), index.end(), out.token_index_host.data_ptr<int64_t>());
    out.token_index = out.token_index_host.to(device, /*non_blocking=*/true);
    if (kernel == VarlenKernel::Flash) {
        at::Tensor cu = at::empty({static_cast<int64_t>(out.starts.size()) + 1}, at::TensorOptions().dtype(at::kInt));
        int32_t* c = cu.data_ptr<int32_t>();
        c[0] = 0;
        for (size_t i = 0; i < out.lengths.size(); ++i) c[i + 1] = c[i] + static_cast<int32_t>(out.lengths[i]);
        out.cu_seqlens = cu.to(device, /*non_blocking=*/true);
    }
    return out;
}

VarlenKernel varlen_kernel_for(c10::Device device, at::ScalarType dtype, int64_t head_dim) {
    if (!device.is_cuda() || (dtype != at::kHalf && dtype != at::kBFloat16)) return VarlenKernel::PerSequenceSdpa;
    // _flash_attention_forward takes head dims the kernel was built for; SDPA pads others to a multiple
    // of 8 before calling it, we do not.
    if (head_dim % 8 != 0 || head_dim > 256) return VarlenKernel::PerSequenceSdpa;
#ifdef LATHE_TORCH_HAS_CUDA
    // ATen's own check: built with flash, the GPU's compute capability, flash not disabled by the user.
    auto opts = at::TensorOptions().dtype(dtype).device(device);
    at::Tensor probe = at::empty({1, 1, 8, head_dim}, opts);
    sdp::sdp_params params{probe, probe, probe, std::nullopt, 0.0, /*is_causal=*/true, /*enable_gqa=*/false};
    if (sdp::can_use_flash_attention(params, /*debug=*/false)) return VarlenKernel::Flash;
#endif
    return VarlenKernel::PerSequenceSdpa;
}

const char* varlen_kernel_name(VarlenKernel kernel) {
    return kernel == VarlenKernel::Flash ? "flash_varlen" : "sdpa_per_sequence";
}

namespace {

// One sequence [len, heads, D] -> [1, heads, len, D], the layout SDPA takes.
at::Tensor as_sdpa(const at::Tensor& x, int64_t start, int64_t length) { return x.narrow(0, start, length).transpose(0, 1).unsqueeze(0); }

at::Tensor per_sequence_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const VarlenBatch& batch,
                                  double scale, const std::optional<int64_t>& window, double dropout) {
    const bool gqa = q.size(1) != k.size(1);
    std::vector<at::Tensor> outs;
    outs.reserve(batch.starts.size());
    for (size_t i = 0; i < batch.starts.size(); ++i) {
        const int64_t start = batch.starts[i], length = batch.lengths[i];
        std::optional<at::Tensor> mask;
        if (window && length > *window) {
            auto long_opts = at::TensorOptions().dtype(at::kLong).device(q.device());
            at::Tensor pos = at::arange(length, long_opts);
            at::Tensor back = pos.unsqueeze(1).sub(pos.unsqueeze(0));  // query - key
            mask = back.ge(0).logical_and(back.lt(*window));
        }
        at::Tensor o = at::scaled_dot_product_attention(as_sdpa(q, start, length), as_sdpa(k, start, length),
                                                        as_sdpa(v, start, length), mask, dropout, /*is_causal=*/!mask, scale, gqa);
        outs.push_back(o.squeeze(0).transpose(0, 1));  // [len, H, D]
    }
    return outs.size() == 1 ? outs[0].contiguous() : at::cat(outs, 0);
}

}  // namespace

at::Tensor varlen_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const VarlenBatch& batch,
                            double scale, const std::optional<int64_t>& window, double dropout) {
    if (batch.kernel == VarlenKernel::PerSequenceSdpa) return per_sequence_attention(q, k, v, batch, scale, window, dropout);
    // Differentiable as it is: autograd's FlashAttentionBackward0 calls _flash_attention_backward (both
    // LibTorch 2.11 and 2.15). Keys up to window - 1 positions back, as the dense mask allows.
    std::optional<int64_t> left, right;
    if (window) {
        left = *window - 1;
        right = 0;
    }
    auto result = at::_flash_attention_forward(q.contiguous(), k.contiguous(), v.contiguous(), batch.cu_seqlens, batch.cu_seqlens,
                                               batch.max_length, batch.max_length, dropout, /*is_causal=*/true,
                                               /*return_debug_mask=*/false, scale, left, right);
    return std::get<0>(result);
}

}  // namespace lathe
