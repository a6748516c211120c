// `lathe train --dry-run`: the resolved configuration and what the run will need in memory, before
// anything is loaded onto a device.
#include <ostream>
#include <sstream>

#include "core/models/config.h"
#include "core/models/model_summary.h"
#include "core/train/compute_plan.h"
#include "core/train/memory_estimate.h"
#include "core/train/trainer.h"

namespace lathe {

void describe_training(const TrainConfig& c, std::ostream& out) {
    const ModelSummary m = summarize_model(c.base_model);
    const ModelConfig mc = read_model_config(c.base_model);
    const ComputePlan plan = plan_compute(c);  // bf16: auto and device: auto as the run would resolve them here
    const MemoryEstimate e = estimate_training_memory(c, mc, m.parameters, plan.bf16);
    const bool lora = uses_lora(c), qlora = e.quantization.has_value(), preference = !c.rl.empty();

    std::ostringstream warmup;
    if (c.warmup_ratio > 0) warmup << c.warmup_ratio << " of the steps";
    else warmup << c.warmup_steps;
    out << "config          " << c.source << "\n"
        << "model           " << c.base_model << " (" << m.architecture << ", " << human_count(m.parameters) << " parameters)\n"
        << "method          " << (lora ? std::string(qlora ? "QLoRA" : "LoRA") + " r=" + std::to_string(c.lora_r) + (c.peft_use_dora ? " (DoRA)" : c.peft_use_rslora ? " (rsLoRA)" : "") : std::string("full finetuning")) << "\n"
        << (qlora ? "quantization    " + quant::describe(*e.quantization) + (e.quantized_as_stored ? " (as stored)" : " (on load)") + "\n" : std::string())
        << "precision       " << (plan.bf16 ? "bfloat16 compute, float32 trainable weights" : "float32") << (c.bf16 == "auto" ? " (bf16: auto)" : "") << "\n"
        << "checkpointing   " << (c.gradient_checkpointing ? "on (layers recomputed in backward)" : "off") << "\n"
        << (preference ? "preference      rl: " + c.rl + " (chosen and rejected in one batch)\n" : std::string())
        << "batch           " << c.micro_batch_size << (preference ? " pairs" : "") << " x " << c.gradient_accumulation_steps << " accumulation, "
        << (preference ? "max_length " + std::to_string(c.max_length > 0 ? c.max_length : c.sequence_len) : "sequence_len " + std::to_string(c.sequence_len)) << "\n"
        << "optimizer       " << c.optimizer << ", lr " << c.learning_rate << " (" << c.lr_scheduler << ", warmup " << warmup.str() << ")\n"
        << "device          " << plan.device << (c.device == "auto" ? " (device: auto)" : "") << "\n"
        << "output          " << c.output_dir << "\n"
        << "memory estimate (per device)\n"
        << "  weights       " << format_gib(e.weights) << (qlora ? " (" + human_count(static_cast<int64_t>(e.quantized)) + " in 4 bits, one layer dequantized at a time)" : std::string()) << "\n"
        << "  trainable     " << human_count(static_cast<int64_t>(e.trainable)) << " parameters\n"
        << "  gradients     " << format_gib(e.gradients) << "\n"
        << "  optimizer     " << format_gib(e.optimizer) << "\n"
        << "  activations   " << format_gib(e.activations) << " (+ " << format_gib(e.logits) << " logits)\n"
        << "  total         " << format_gib(e.total) << "\n";
}

}  // namespace lathe
