// Attention over the real tokens of a padded or packed batch, laid end to end ("unpadded", as
// transformers' padding-free path): no [T, T] mask exists and no score crosses a sequence boundary.
// On CUDA with half/bfloat16 it is ATen's flash kernel with cumulative sequence lengths; elsewhere
// causal SDPA once per sequence, which gives the same numbers.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace lathe {

enum class VarlenKernel { Flash, PerSequenceSdpa };

// Where the real tokens of a [B, T] batch are and which sequence each belongs to. Built on the host
// from the batch's host tensors, so using it needs no device-to-host sync.
struct VarlenBatch {
    int64_t batch = 0, time = 0;         // B, T of the padded batch
    int64_t total = 0;                   // real tokens
    int64_t max_length = 0;              // longest sequence
    std::vector<int64_t> starts;         // sequence i is tokens [starts[i], starts[i] + lengths[i]) of the unpadded run
    std::vector<int64_t> lengths;
    at::Tensor token_index_host;         // int64 [total]: each real token's index in the flattened [B * T] batch
    at::Tensor token_index;              // the same on the model's device
    at::Tensor cu_seqlens;               // int32 [sequences + 1] on the device (flash only)
    VarlenKernel kernel = VarlenKernel::PerSequenceSdpa;
};

// attention_mask [B, T] (1 = token, 0 = padding; undefined = no padding) and sequence_ids [B, T]
// (packed rows; undefined = one sequence per row), both on the host. A sequence is a run of real tokens
// with one sequence id. Returns nullopt when the batch has no real token or a sequence is split by
// padding or by another sequence (the dense masked path handles those exactly).
std::optional<VarlenBatch> varlen_batch(const at::Tensor& attention_mask, const at::Tensor& sequence_ids, int64_t batch,
                                        int64_t time, c10::Device device, VarlenKernel kernel);

// Flash when this LibTorch can run ATen's flash kernel for these tensors (CUDA, sm80+, half or
// bfloat16, head_dim a multiple of 8 up to 256, flash not disabled); per-sequence SDPA otherwise.
VarlenKernel varlen_kernel_for(c10::Device device, at::ScalarType dtype, int64_t head_dim);
const char* varlen_kernel_name(VarlenKernel kernel);

// q [total, H, D], k and v [total, KV, D] (KV divides H); causal within each sequence, keys at most
// `window` - 1 positions back when a sliding window is set; `dropout` on the attention probabilities (the
// model's attention dropout in training). Returns [total, H, D].
at::Tensor varlen_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const VarlenBatch& batch,
                            double scale, const std::optional<int64_t>& window, double dropout = 0.0);

}  // namespace lathe
