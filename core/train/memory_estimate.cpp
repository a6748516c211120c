#include "core/train/memory_estimate.h"

#include <algorithm>
#include <cstring>
#include <iomanip>
#include <sstream>

#include "core/models/model_summary.h"
#include "core/train/bucket_lifetime.h"
#include "core/train/layer_activations.h"
#include "core/train/trained_tensors.h"
#include "core/train/zero_partition.h"
#include "kernels/fused_ops_setting.h"

namespace lathe {

namespace {

// The module name PEFT targets: the last part of the tensor name ("h.%d.attn.c_attn" -> "c_attn").
std::string module_name(const char* tensor_template) {
    const char* dot = std::strrchr(tensor_template, '.');
    return dot ? dot + 1 : tensor_template;
}

// LoRA adds r * (in + out) parameters per adapted linear layer; only the projections this architecture
// has (fused ones in phi3 and gpt2) and that the config targets.
double lora_parameters(const TrainConfig& c, const ModelConfig& mc) {
    const ArchSpec& a = *mc.arch;
    const double h = static_cast<double>(mc.hidden_size), i = static_cast<double>(mc.intermediate_size);
    const double q = static_cast<double>(mc.num_heads * mc.head_dim), kv = static_cast<double>(mc.num_kv_heads * mc.head_dim);
    auto adapted = [&](const char* tmpl, double in, double out) -> double {
        if (!tmpl || !*tmpl) return 0;
        const std::string name = module_name(tmpl);
        const bool wanted = c.lora_target_linear ||
                            std::find(c.lora_target_modules.begin(), c.lora_target_modules.end(), name) != c.lora_target_modules.end();
        return wanted ? c.lora_r * (in + out) : 0;
    };
    double per_layer = 0;
    if (a.fused_qkv) {
        per_layer += adapted(a.qkv, h, q + 2 * kv);
    } else {
        per_layer += adapted(a.q, h, q) + adapted(a.k, h, kv) + adapted(a.v, h, kv);
    }
    per_layer += adapted(a.o, q, h);
    if (a.mlp == MlpKind::GatedFused) per_layer += adapted(a.gate_up, h, 2 * i);
    else per_layer += adapted(a.gate, h, i) + adapted(a.up, h, i);  // Plain: up is fc
    per_layer += adapted(a.down, i, h);
    return per_layer * static_cast<double>(mc.num_layers);
}

// What the layers keep for backward (layer_activations.h), from what each op saves for the run: the fused
// ops or the composites (the setting the run will read, kernels/fused_ops_setting.h), the dtype, the
// device. Without checkpointing every layer keeps its share; with it each layer keeps its input (and the
// generator's state) and one layer at a time is recomputed in full during backward.
double activation_bytes(const TrainConfig& c, const ModelConfig& mc, bool bf16, double tokens, int64_t length) {
    const ActivationOps ops{.bf16 = bf16, .fused = kernels::fused_ops_enabled(), .on_cpu = runs_on_cpu(c), .sequence = length};
    const LayerActivations layer = layer_activations(c, mc, ops);
    const double one_layer = tokens * layer.per_token + layer.per_layer;
    const double layers = static_cast<double>(mc.num_layers);
    if (!c.gradient_checkpointing) return one_layer * layers;
    const LayerActivations input = checkpointed_layer(mc, ops);
    return (tokens * input.per_token + input.per_layer) * layers + one_layer;
}

// Each rank's share of the optimizer state and the gradients, dealt out as ShardedAdamW and GradientSync
// deal them (zero_partition.h), over the tensors the trainer trains (trained_tensors.h). Assumes a backend
// with reduce-scatter (NCCL; Gloo in LibTorch 2.15).
void add_rank_shares(MemoryEstimate& e, const TrainConfig& c, const ModelConfig& mc, bool bf16, int world) {
    const std::vector<TrainedTensor> tensors = trained_tensors(c, mc, bf16);
    const bool adamw = c.optimizer != "sgd";
    const bool shard_gradients = c.zero_stage == 2 && adamw;  // as make_gradient_sync: SGD keeps no state to shard by
    std::vector<SyncTensor> sync;
    for (const TrainedTensor& t : tensors)
        sync.push_back({.numel = t.numel(), .element_size = t.element_size, .kind = static_cast<int>(t.element_size), .output_layer = t.output_layer});
    const int64_t cap = std::max<int64_t>(1, static_cast<int64_t>(c.ddp_bucket_cap_mb * 1024 * 1024));
    const BucketPlan plan = plan_gradient_buckets(sync, cap, world, shard_gradients, /*reduce_scatter=*/true);

    // Who keeps each tensor's moments: ZeRO-2, the rank its gradient goes to; ZeRO-1, ShardedAdamW's own
    // dealing over its groups one after the other.
    std::vector<int> owner = plan.owner;
    if (owner.empty()) {
        std::vector<size_t> by_group;
        for (int g = 0; g < 3; ++g)
            for (size_t i = 0; i < tensors.size(); ++i)
                if (tensors[i].group == g) by_group.push_back(i);
        std::vector<int64_t> numels;
        for (size_t i : by_group) numels.push_back(tensors[i].numel());
        const std::vector<int> dealt = deal_largest_first(numels, world);
        owner.assign(tensors.size(), 0);
        for (size_t k = 0; k < by_group.size(); ++k) owner[by_group[k]] = dealt[k];
    }

    double trained = 0;
    for (const TrainedTensor& t : tensors) trained += static_cast<double>(t.numel());
    const double master = (uses_lora(c) || bf16) ? trained * 4 : 0;
    for (const GradientBucket& b : plan.buckets) {
        double bytes = 0;
        for (size_t m : b.members) bytes += static_cast<double>(tensors[m].numel() * tensors[m].element_size);
        e.largest_bucket = std::max(e.largest_bucket, bytes);
    }
    e.world_size = world;
    e.zero_stage = static_cast<int>(c.zero_stage);
    e.ranks.assign(static_cast<size_t>(world), RankMemory{});
    for (int r = 0; r < world; ++r) {
        RankMemory& m = e.ranks[static_cast<size_t>(r)];
        for (size_t i = 0; i < tensors.size(); ++i) {
            if (adamw && owner[i] != r) continue;  // SGD is not sharded: every rank updates every tensor
            m.updated_parameters += tensors[i].numel();
            if (adamw) m.optimizer_states += 2.0 * static_cast<double>(tensors[i].numel() * tensors[i].element_size);  // exp_avg, exp_avg_sq
        }
        m.master = master;
        // Kept for the update: every bucket's summed gradient (ZeRO-1; the all-reduce buffers are the
        // gradients), or (ZeRO-2) this rank's padded segment of each reduce-scattered bucket and the buckets
        // reduced to it whole. The buffers beside them peak as GradientSync frees them (bucket_lifetime.h):
        // at the worst a collective completes only when the in-flight bound waits for it.
        int64_t kept = 0;
        for (const GradientBucket& b : plan.buckets) kept += bucket_bytes(b, sync, r, world, shard_gradients, /*reduce_scatter=*/true).kept;
        m.gradients = static_cast<double>(kept);
        const int64_t peak = reduction_peak(plan, sync, r, world, shard_gradients, /*reduce_scatter=*/true, kShardedBucketsInFlight,
                                            /*accumulated=*/c.gradient_accumulation_steps > 1);
        m.buckets = static_cast<double>(peak - kept);
        m.total = e.weights + m.optimizer_states + m.master + m.gradients + m.buckets + e.activations + e.logits;
    }
}

}  // namespace

double MemoryEstimate::device_total() const {
    double most = ranks.empty() ? total : 0;
    for (const RankMemory& r : ranks) most = std::max(most, r.total);
    return most;
}

bool resolve_bf16(const std::string& setting, bool device_is_cuda, int gpu_compute_major) {
    if (setting == "auto") return device_is_cuda && gpu_compute_major >= 8;  // Ampere and later compute bfloat16 natively
    return setting == "true";
}

std::string format_gib(double bytes) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(2) << bytes / (1024.0 * 1024 * 1024) << " GiB";
    return s.str();
}

MemoryEstimate estimate_training_memory(const TrainConfig& c, const ModelConfig& mc, int64_t parameters, bool bf16, int world_size) {
    MemoryEstimate e;
    const double weight_bytes = bf16 ? 2.0 : 4.0;
    const bool lora = uses_lora(c);
    e.trainable = lora ? lora_parameters(c, mc) : static_cast<double>(parameters);

    // QLoRA: the decoder blocks' linear weights in 4 bits (half a byte each, plus a float32 absmax per
    // block of 64, or with double quantization one byte per block and a float32 per 256 blocks); the
    // rest (embeddings, norms, lm_head) in the compute dtype. The forward dequantizes one layer at a time.
    const bool qlora = c.adapter == "qlora" || mc.quantization;
    double largest_linear = 0;
    if (qlora) {
        e.quantization = mc.quantization ? *mc.quantization : qlora_quantization(c, bf16);
        e.quantized_as_stored = mc.quantization.has_value();
        const double h = static_cast<double>(mc.hidden_size), i = static_cast<double>(mc.intermediate_size);
        const double q = static_cast<double>(mc.num_heads * mc.head_dim), kv = static_cast<double>(mc.num_kv_heads * mc.head_dim);
        const double mlp = mc.arch->mlp == MlpKind::Plain ? 2 * h * i : 3 * h * i;
        e.quantized = (2 * h * q + 2 * h * kv + mlp) * static_cast<double>(mc.num_layers);
        largest_linear = std::max({h * q, h * i * (mc.arch->mlp == MlpKind::GatedFused ? 2 : 1), mc.arch->fused_qkv ? h * (q + 2 * kv) : 0.0});
    }
    const double bytes_4bit = e.quantization ? 0.5 + (e.quantization->double_quant ? 1.0 / 64 + 4.0 / (64 * 256) : 4.0 / 64) : 0;
    // One layer dequantized (quant::dequantize_4bit): its nibbles (1 byte each) as int32 indices, the
    // float32 values scaled in place, and their cast to a bfloat16 compute dtype.
    const double dequantized_layer = largest_linear * (1 + 4 + 4 + (bf16 ? 2 : 0));
    e.weights = (static_cast<double>(parameters) - e.quantized) * weight_bytes + e.quantized * bytes_4bit + dequantized_layer;
    e.gradients = e.trainable * 4;  // float32
    const double moments = c.optimizer == "sgd" ? 0 : e.trainable * 8;  // AdamW: two float32 moments
    const double master = (lora || bf16) ? e.trainable * 4 : 0;         // float32 master weights of what is trained
    e.optimizer = moments + master;
    // Preference tuning runs each pair's chosen and rejected sequences in one batch: twice the rows, each up
    // to max_length. Its reference model costs nothing here: LoRA-DPO switches the adapter off, full
    // finetuning precomputes the reference log-probabilities.
    const bool preference = !c.rl.empty();
    const int64_t rows = preference ? 2 * c.micro_batch_size : c.micro_batch_size;
    const int64_t length = preference && c.max_length > 0 ? c.max_length : c.sequence_len;
    const double tokens = static_cast<double>(rows * length);
    e.activations = activation_bytes(c, mc, bf16, tokens, length);
    // The loss runs in chunks of 1024 positions: one chunk's float32 logits and their gradient.
    e.logits = std::min(tokens, 1024.0) * static_cast<double>(mc.vocab_size) * 4.0 * 2;
    e.total = e.weights + e.gradients + e.optimizer + e.activations + e.logits;
    if (world_size > 1) add_rank_shares(e, c, mc, bf16, world_size);
    return e;
}

MemoryEstimate estimate_training_memory(const TrainConfig& c, bool bf16, int world_size) {
    return estimate_training_memory(c, read_model_config(c.base_model), summarize_model(c.base_model).parameters, bf16, world_size);
}

}  // namespace lathe
