#include "core/train/presets.h"

#include <algorithm>

namespace lathe {

const std::vector<TrainPreset>& train_presets() {
    static const std::vector<TrainPreset> presets = {
        {"Quick LoRA", "a first look in minutes: LoRA r=8 on the attention projections, one epoch"},
        {"Quality LoRA", "rsLoRA r=32 on every linear layer, three epochs, a held-out loss"},
        {"QLoRA", "LoRA r=32 on every linear layer over 4-bit base weights: large models on one GPU"},
        {"Full finetune", "every weight at a low learning rate, activations recomputed"},
        {"Continued pretraining", "raw text, packed, every weight: the learning rate warmed up again and decayed by cosine, further "
                                  "datasets replayed as general text, a probe of each dataset to watch what is forgotten"},
        {"DPO LoRA", "preference pairs (chosen, rejected) against the base: LoRA r=32, beta 0.1, a low learning rate"},
    };
    return presets;
}

namespace {
constexpr double kReplayWeight = 0.25;  // Continued pretraining: rows per epoch of each replayed general dataset, as a share of its rows
constexpr int64_t kProbeRows = 64;      // rows of each probe: an evaluation costs a few optimizer steps, not an epoch

// Which layers a preset's adapter targets: the attention's query and value projections (the LoRA
// paper's choice, the smallest adapter) or every linear layer but the output head.
enum LoraTargets { kAttentionQV, kAllLinear };

void set_lora(TrainConfig& c, int64_t r, double alpha, LoraTargets targets) {
    c.lora_r = r;
    c.lora_alpha = alpha;
    c.lora_dropout = 0.05;
    c.lora_target_linear = targets == kAllLinear;
    c.lora_target_modules = targets == kAllLinear ? std::vector<std::string>{} : std::vector<std::string>{"q_proj", "v_proj"};
}
}  // namespace

bool apply_train_preset(TrainConfig& config, std::string_view name) {
    const auto& all = train_presets();
    if (std::none_of(all.begin(), all.end(), [&](const TrainPreset& p) { return p.name == name; })) return false;
    TrainConfig c = config;
    const TrainConfig d;
    c.warmup_steps = d.warmup_steps;
    c.weight_decay = d.weight_decay;
    c.max_steps = 0;
    c.lr_scheduler = "cosine";
    c.cosine_min_lr_ratio = d.cosine_min_lr_ratio;
    c.gradient_checkpointing = false;
    c.sample_packing = false;
    c.load_in_4bit = false;
    c.peft_use_rslora = c.peft_use_dora = false;
    c.rl.clear();  // supervised unless the preset is a preference one
    if (name == "Quick LoRA") {
        c.adapter = "lora";
        set_lora(c, 8, 16, kAttentionQV);
        c.learning_rate = 2e-4;
        c.num_epochs = 1;
        c.micro_batch_size = 2;
        c.gradient_accumulation_steps = 4;
        c.sequence_len = 1024;
        c.warmup_steps = 10;
        c.save_steps = 100;
    } else if (name == "Quality LoRA") {
        c.adapter = "lora";
        c.peft_use_rslora = true;
        set_lora(c, 32, 32, kAllLinear);
        c.learning_rate = 1e-4;
        c.num_epochs = 3;
        c.micro_batch_size = 4;
        c.gradient_accumulation_steps = 4;
        c.sequence_len = 2048;
        c.warmup_steps = 30;
        c.weight_decay = 0.01;
        c.val_set_size = std::max(c.val_set_size, 0.05);
        c.eval_steps = 100;
        c.save_steps = 200;
        c.save_total_limit = 3;
    } else if (name == "QLoRA") {  // after Axolotl's examples/llama-3/qlora.yml (r 32, alpha 16, lr 2e-4, checkpointing); nf4 with double quantization
        c.adapter = "qlora";
        c.load_in_4bit = true;
        set_lora(c, 32, 16, kAllLinear);
        c.learning_rate = 2e-4;
        c.num_epochs = 1;
        c.micro_batch_size = 2;
        c.gradient_accumulation_steps = 4;
        c.sequence_len = 2048;
        c.warmup_steps = 10;
        c.gradient_checkpointing = true;
        c.save_steps = 200;
    } else if (name == "Full finetune") {
        c.adapter.clear();
        c.learning_rate = 2e-5;
        c.num_epochs = 2;
        c.micro_batch_size = 2;
        c.gradient_accumulation_steps = 8;
        c.sequence_len = 2048;
        c.warmup_steps = 20;
        c.weight_decay = 0.01;
        c.gradient_checkpointing = true;
        c.save_steps = 200;
        c.save_total_limit = 2;
    } else if (name == "DPO LoRA") {  // after TRL 1.16's scripts/dpo.py LoRA example (lr 5e-6, r 32, alpha 16, 2 x 8)
        c.rl = "dpo";
        c.dpo_beta = d.dpo_beta;
        c.dpo_label_smoothing = 0;
        c.dpo_loss_type.clear();
        c.adapter = "lora";
        set_lora(c, 32, 16, kAttentionQV);
        c.learning_rate = 5e-6;
        c.num_epochs = 1;
        c.micro_batch_size = 2;
        c.gradient_accumulation_steps = 8;
        c.sequence_len = 1024;
        c.probe_datasets.clear();  // no probes with rl (val_set_size is kept: held-out pairs are evaluated)
        for (auto& ds : c.datasets)
            if (ds.type != "chat_template.default" && ds.type != "chatml.intel") ds.type.clear();  // TRL's prompt/chosen/rejected rows
        c.save_steps = 100;
    } else if (name == "Continued pretraining") {
        c.adapter.clear();
        for (auto& ds : c.datasets) ds.type = "text";
        c.sample_packing = true;
        c.learning_rate = 5e-5;
        c.num_epochs = 1;
        c.micro_batch_size = 1;
        c.gradient_accumulation_steps = 16;
        c.sequence_len = 2048;
        // Re-warming then re-decaying the learning rate, with a replay of general data, as Ibrahim et al.
        // (2024, "Simple and Scalable Strategies to Continually Pre-train Large Language Models") found to
        // match training on the union of the data from scratch; the decay ends at a tenth of the peak.
        c.warmup_steps = 50;
        c.cosine_min_lr_ratio = 0.1;
        c.gradient_checkpointing = true;
        c.save_steps = 500;
        c.eval_steps = 50;
        // The first dataset is the new domain; any further one is general text replayed beside it, a
        // quarter of its rows each epoch (unless a weight was chosen already).
        for (size_t i = 1; i < c.datasets.size(); ++i)
            if (c.datasets[i].weight == 1.0) c.datasets[i].weight = kReplayWeight;
        // A probe of each: the general text's loss rising after the re-warm is what the run forgets.
        c.probe_datasets.clear();
        for (size_t i = 0; i < c.datasets.size(); ++i) {
            DatasetSpec data = c.datasets[i];
            data.weight = 1.0;
            const std::string name = i == 0 ? "domain" : c.datasets.size() == 2 ? "general" : "general " + std::to_string(i);
            c.probe_datasets.push_back({.name = name, .dataset = data, .max_rows = kProbeRows});
        }
    }
    if (c.adapter.empty()) {
        c.lora_target_modules.clear();
        c.lora_target_linear = false;
    }
    config = c;
    return true;
}

}  // namespace lathe
