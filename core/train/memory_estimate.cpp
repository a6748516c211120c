// `lathe train --dry-run`: the resolved configuration and what the run will need in memory, before
// anything is loaded onto a device.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <optional>
#include <sstream>

#include "core/models/config.h"
#include "core/models/model_summary.h"
#include "core/train/compute_plan.h"
#include "core/train/trainer.h"
#include "core/util/error.h"

namespace lathe {

namespace {
std::string gib(double bytes) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(2) << bytes / (1024.0 * 1024 * 1024) << " GiB";
    return s.str();
}
}  // namespace

void describe_training(const TrainConfig& c, std::ostream& out) {
    ModelSummary m = summarize_model(c.base_model);
    ModelConfig mc = read_model_config(c.base_model);
    const ComputePlan plan = plan_compute(c);  // bf16: auto and device: auto as the run would resolve them here
    const double weight_bytes = plan.bf16 ? 2.0 : 4.0;

    // Trainable parameters: LoRA adds r * (in + out) per adapted linear layer.
    double trainable = 0;
    const bool lora = uses_lora(c);
    if (lora) {
        const double h = static_cast<double>(mc.hidden_size), i = static_cast<double>(mc.intermediate_size);
        const double q = static_cast<double>(mc.num_heads * mc.head_dim), kv = static_cast<double>(mc.num_kv_heads * mc.head_dim);
        auto wanted = [&](const char* name) {
            if (c.lora_target_linear) return true;
            for (const auto& t : c.lora_target_modules) if (t == name) return true;
            return false;
        };
        // Only the projections this architecture has (fused ones in phi3/gpt2).
        const ArchSpec& a = *mc.arch;
        double per_layer = 0;
        if (a.fused_qkv) {
            if (wanted(a.model_type == std::string("gpt2") ? "c_attn" : "qkv_proj")) per_layer += c.lora_r * (h + q + 2 * kv);
        } else {
            if (wanted("q_proj")) per_layer += c.lora_r * (h + q);
            if (wanted("k_proj")) per_layer += c.lora_r * (h + kv);
            if (wanted("v_proj")) per_layer += c.lora_r * (h + kv);
        }
        if (wanted(a.model_type == std::string("gpt2") ? "c_proj" : "o_proj")) per_layer += c.lora_r * (q + h);
        switch (a.mlp) {
            case MlpKind::Gated:
                if (wanted("gate_proj")) per_layer += c.lora_r * (h + i);
                if (wanted("up_proj")) per_layer += c.lora_r * (h + i);
                if (wanted("down_proj")) per_layer += c.lora_r * (i + h);
                break;
            case MlpKind::GatedFused:
                if (wanted("gate_up_proj")) per_layer += c.lora_r * (h + 2 * i);
                if (wanted("down_proj")) per_layer += c.lora_r * (i + h);
                break;
            case MlpKind::Plain:  // gpt2: c_fc, and c_proj (counted with attention's c_proj above)
                if (wanted("c_fc")) per_layer += c.lora_r * (h + i);
                if (wanted("c_proj")) per_layer += c.lora_r * (i + h);
                break;
        }
        trainable = per_layer * mc.num_layers;
    } else {
        trainable = static_cast<double>(m.parameters);
    }
    // QLoRA: the decoder blocks' linear weights in 4 bits (half a byte each, plus a float32 absmax per
    // block of 64, or with double quantization one byte per block and a float32 per 256 blocks); the
    // rest (embeddings, norms, lm_head) in the compute dtype. The forward dequantizes one layer at a time.
    const bool qlora = c.adapter == "qlora" || mc.quantization;
    double quantized = 0, largest_linear = 0;
    std::optional<quant::BnbQuantizationConfig> q4 = mc.quantization;
    if (qlora) {
        if (!q4) q4 = qlora_quantization(c, plan.bf16);
        const double h = static_cast<double>(mc.hidden_size), i = static_cast<double>(mc.intermediate_size);
        const double q = static_cast<double>(mc.num_heads * mc.head_dim), kv = static_cast<double>(mc.num_kv_heads * mc.head_dim);
        const double mlp = mc.arch->mlp == MlpKind::Plain ? 2 * h * i : 3 * h * i;
        quantized = (2 * h * q + 2 * h * kv + mlp) * mc.num_layers;
        largest_linear = std::max({h * q, h * i * (mc.arch->mlp == MlpKind::GatedFused ? 2 : 1), mc.arch->fused_qkv ? h * (q + 2 * kv) : 0.0});
    }
    const double bytes_4bit = q4 ? 0.5 + (q4->double_quant ? 1.0 / 64 + 4.0 / (64 * 256) : 4.0 / 64) : 0;
    // One layer dequantized (quant::dequantize_4bit): its nibbles (1 byte each) as int32 indices, the
    // float32 values scaled in place, and their cast to a bfloat16 compute dtype.
    const double dequantized_layer = largest_linear * (1 + 4 + 4 + (plan.bf16 ? 2 : 0));
    const double weights = (m.parameters - quantized) * weight_bytes + quantized * bytes_4bit + dequantized_layer;
    const double gradients = trainable * 4;           // float32
    const double optimizer = c.optimizer == "sgd" ? 0 : trainable * 8;  // AdamW: two float32 moments
    const double master = (lora || plan.bf16) ? trainable * 4 : 0;  // float32 master weights of what is trained
    // Activations kept for backward, per layer and token, roughly: attention inputs/outputs, q/k/v,
    // MLP (3 x intermediate) and norms, in the compute dtype; plus float32 logits for the loss.
    // Preference tuning runs each pair's chosen and rejected sequences in one batch: twice the rows, each up
    // to max_length. Its reference model costs nothing here: LoRA-DPO switches the adapter off, full
    // finetuning precomputes the reference log-probabilities.
    const bool preference = !c.rl.empty();
    const int64_t rows = preference ? 2 * c.micro_batch_size : c.micro_batch_size;
    const int64_t length = preference && c.max_length > 0 ? c.max_length : c.sequence_len;
    const double tokens = static_cast<double>(rows * length);
    const double per_token_layer = (10.0 * mc.hidden_size + 4.0 * mc.intermediate_size) * weight_bytes;
    // With checkpointing only each layer's input is kept, plus one layer's worth while it is recomputed.
    const double activations = c.gradient_checkpointing
                                   ? tokens * mc.hidden_size * weight_bytes * mc.num_layers + tokens * per_token_layer
                                   : tokens * per_token_layer * mc.num_layers;
    // The loss runs in chunks of 1024 positions: one chunk's float32 logits and their gradient.
    const double logits = std::min(tokens, 1024.0) * mc.vocab_size * 4.0 * 2;
    const double total = weights + gradients + optimizer + master + activations + logits;

    out << "config          " << c.source << "\n"
        << "model           " << c.base_model << " (" << m.architecture << ", " << human_count(m.parameters) << " parameters)\n"
        << "method          " << (lora ? std::string(qlora ? "QLoRA" : "LoRA") + " r=" + std::to_string(c.lora_r) + (c.peft_use_dora ? " (DoRA)" : c.peft_use_rslora ? " (rsLoRA)" : "") : std::string("full finetuning")) << "\n"
        << (qlora ? "quantization    " + quant::describe(*q4) + (mc.quantization ? " (as stored)" : " (on load)") + "\n" : std::string())
        << "precision       " << (plan.bf16 ? "bfloat16 compute, float32 trainable weights" : "float32") << (c.bf16 == "auto" ? " (bf16: auto)" : "") << "\n"
        << "checkpointing   " << (c.gradient_checkpointing ? "on (layers recomputed in backward)" : "off") << "\n"
        << (preference ? "preference      rl: " + c.rl + " (chosen and rejected in one batch)\n" : std::string())
        << "batch           " << c.micro_batch_size << (preference ? " pairs" : "") << " x " << c.gradient_accumulation_steps
        << " accumulation, " << (preference ? "max_length " + std::to_string(length) : "sequence_len " + std::to_string(c.sequence_len)) << "\n"
        << "optimizer       " << c.optimizer << ", lr " << c.learning_rate << " (" << c.lr_scheduler << ", warmup " << c.warmup_steps << ")\n"
        << "device          " << plan.device << (c.device == "auto" ? " (device: auto)" : "") << "\n"
        << "output          " << c.output_dir << "\n"
        << "memory estimate (per device)\n"
        << "  weights       " << gib(weights) << (qlora ? " (" + human_count(static_cast<int64_t>(quantized)) + " in 4 bits, one layer dequantized at a time)" : std::string()) << "\n"
        << "  trainable     " << human_count(static_cast<int64_t>(trainable)) << " parameters\n"
        << "  gradients     " << gib(gradients) << "\n"
        << "  optimizer     " << gib(optimizer + master) << "\n"
        << "  activations   " << gib(activations) << " (+ " << gib(logits) << " logits)\n"
        << "  total         " << gib(total) << "\n";
}

}  // namespace lathe
