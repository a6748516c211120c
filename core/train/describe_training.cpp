// `lathe train --dry-run`: the resolved configuration and what the run will need in memory, before
// anything is loaded onto a device.
#include <iomanip>
#include <ostream>
#include <sstream>

#include "core/models/config.h"
#include "core/models/model_summary.h"
#include "core/train/compute_plan.h"
#include "core/train/memory_estimate.h"
#include "core/train/trainer.h"

namespace lathe {

namespace {

// Data parallel: one column per rank, each rank's own share of the optimizer state and gradients.
void describe_ranks(const TrainConfig& c, const MemoryEstimate& e, std::ostream& out) {
    const bool sharded_gradients = e.zero_stage == 2 && c.optimizer != "sgd";
    out << "ranks           " << e.world_size << " (zero_stage " << e.zero_stage << ": "
        << (c.optimizer == "sgd" ? "sgd keeps no optimizer state; gradients all-reduced"
                                 : sharded_gradients ? "optimizer state and gradients sharded" : "optimizer state sharded, gradients all-reduced")
        << ", buckets of " << c.ddp_bucket_cap_mb << " MiB)\n"
        << "memory estimate (per rank; " << human_count(static_cast<int64_t>(e.trainable)) << " trainable parameters)\n";
    auto row = [&](const char* label, auto value) {
        out << "  " << std::left << std::setw(14) << label;
        for (const RankMemory& r : e.ranks) out << std::right << std::setw(12) << value(r);
        out << "\n";
    };
    out << "  " << std::left << std::setw(14) << "";
    for (size_t r = 0; r < e.ranks.size(); ++r) out << std::right << std::setw(12) << "rank " + std::to_string(r);
    out << "\n";
    row("weights", [&](const RankMemory&) { return format_gib(e.weights); });
    row("updates", [&](const RankMemory& r) { return human_count(r.updated_parameters); });
    row("optimizer", [&](const RankMemory& r) { return format_gib(r.optimizer_states); });
    if (e.ranks.front().master > 0) row("master copy", [&](const RankMemory& r) { return format_gib(r.master); });
    row("gradients", [&](const RankMemory& r) { return format_gib(r.gradients); });
    row("buckets", [&](const RankMemory& r) { return format_gib(r.buckets); });
    row("activations", [&](const RankMemory&) { return format_gib(e.activations + e.logits); });
    row("total", [&](const RankMemory& r) { return format_gib(r.total); });
    out << "  (optimizer: AdamW's moments of the parameters each rank updates; gradients: the summed ones it keeps"
        << (sharded_gradients ? ", its share" : ", all of them") << "; buckets: reduction buffers held beside them during the step;"
        << " one process: " << format_gib(e.total) << ")\n";
}

}  // namespace

void describe_training(const TrainConfig& c, std::ostream& out, int world_size) {
    const ModelSummary m = summarize_model(c.base_model);
    const ModelConfig mc = read_model_config(c.base_model);
    const ComputePlan plan = plan_compute(c);  // bf16: auto and device: auto as the run would resolve them here
    TrainConfig on_device = c;  // the estimate keeps to the device the run will use (dropout keeps other things on the CPU)
    on_device.device = plan.device;
    const MemoryEstimate e = estimate_training_memory(on_device, mc, m.parameters, plan.bf16, world_size);
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
        << "output          " << c.output_dir << "\n";
    if (world_size > 1) {
        describe_ranks(c, e, out);
        return;
    }
    out << "memory estimate (per device)\n"
        << "  weights       " << format_gib(e.weights) << (qlora ? " (" + human_count(static_cast<int64_t>(e.quantized)) + " in 4 bits, one layer dequantized at a time)" : std::string()) << "\n"
        << "  trainable     " << human_count(static_cast<int64_t>(e.trainable)) << " parameters\n"
        << "  gradients     " << format_gib(e.gradients) << "\n"
        << "  optimizer     " << format_gib(e.optimizer) << "\n"
        << "  activations   " << format_gib(e.activations) << " (+ " << format_gib(e.logits) << " logits)\n"
        << "  total         " << format_gib(e.total) << "\n";
}

}  // namespace lathe
