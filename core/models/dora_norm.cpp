#include "core/models/dora_norm.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/matmul.h>
#include <c10/core/TensorImpl.h>
#include <c10/util/intrusive_ptr.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace lathe {

namespace {

// A weak reference to a tensor: tells whether a tensor is that one without keeping its data alive, and,
// while it exists, keeps the tensor's address from being reused by another.
using WeakTensorRef = c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>;

std::optional<WeakTensorRef> weak_ref(const at::Tensor& t) {
    if (!t.defined()) return std::nullopt;
    return WeakTensorRef(t.getIntrusivePtr());
}

bool refers_to(const std::optional<WeakTensorRef>& ref, const at::Tensor& t) {
    if (!t.defined()) return !ref;
    return ref && !ref->expired() && ref->_unsafe_get_target() == t.unsafeGetTensorImpl();
}

// The version of t's data a cached norm may rely on; nullopt when t keeps none (an inference tensor).
std::optional<int64_t> data_version(const at::Tensor& t) {
    if (!t.defined()) return 0;
    if (t.is_inference()) return std::nullopt;
    return t._version();
}

// One layer's norm and what it was computed from.
struct Entry {
    at::Tensor norm;
    std::optional<WeakTensorRef> A, B, weight;
    std::weak_ptr<const quant::Bnb4bitTensor> weight_4bit;
    int64_t A_version = 0, B_version = 0, weight_version = 0;
    double scale = 0;

    bool current_for(const Linear& layer) const {
        const LoraWeights& lora = *layer.lora;
        return refers_to(A, lora.A) && refers_to(B, lora.B) && refers_to(weight, layer.weight) && weight_4bit.lock() == layer.weight_4bit &&
               scale == lora.scale && data_version(lora.A) == A_version && data_version(lora.B) == B_version &&
               data_version(layer.weight) == weight_version;
    }
};

// Keyed by the adapter (LoraWeights lives in its Linear for as long as the adapter is attached). An entry
// whose adapter has gone fails current_for (its A reference has expired) and is dropped on the next insert.
struct Cache {
    std::mutex mutex;
    std::unordered_map<const LoraWeights*, Entry> entries;
};

Cache& cache() {
    static Cache c;
    return c;
}

std::atomic<int64_t> g_computations{0};

at::Tensor compute_norm(const Linear& layer) {
    const LoraWeights& lora = *layer.lora;
    at::NoGradGuard no_grad;  // no gradient through the norm: no graph for it either
    ++g_computations;
    return (base_weight(layer, at::kFloat) + (at::matmul(lora.B, lora.A) * lora.scale).to(at::kFloat)).norm(2, {1});
}

}  // namespace

int64_t dora_norm_computations() { return g_computations.load(); }

at::Tensor dora_weight_norm(const Linear& layer) {
    const LoraWeights& lora = *layer.lora;
    Cache& c = cache();
    {
        std::lock_guard<std::mutex> lock(c.mutex);
        auto it = c.entries.find(&lora);
        if (it != c.entries.end() && it->second.current_for(layer)) return it->second.norm;
    }
    at::Tensor norm = compute_norm(layer);
    const auto a = data_version(lora.A), b = data_version(lora.B), w = data_version(layer.weight);
    std::lock_guard<std::mutex> lock(c.mutex);
    std::erase_if(c.entries, [](const auto& kv) { return kv.second.A && kv.second.A->expired(); });
    if (a && b && w)
        c.entries[&lora] = Entry{.norm = norm, .A = weak_ref(lora.A), .B = weak_ref(lora.B), .weight = weak_ref(layer.weight),
                                 .weight_4bit = layer.weight_4bit, .A_version = *a, .B_version = *b, .weight_version = *w, .scale = lora.scale};
    else
        c.entries.erase(&lora);
    return norm;
}

}  // namespace lathe
