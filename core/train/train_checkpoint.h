// Training checkpoints: OUTPUT_DIR/checkpoint-STEP/ holding the adapter in PEFT's layout (or the full
// weights as model.safetensors), the optimizer state, the random-number state, the run's config and
// trainer_state.json. Written to a temporary folder, fsync'ed and renamed, so a crash never leaves a
// half checkpoint.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/models/loader.h"
#include "core/runs/run_store.h"
#include "core/train/adamw.h"
#include "core/train/lora.h"
#include "core/train/train_config.h"

namespace lathe {

struct TrainState {
    int64_t run_id = 0;
    int64_t step = 0;                 // optimizer steps done; fixes the data position too
    double best_eval = 0;
    int64_t evals_without_improvement = 0;
    std::string dir;                  // the checkpoint folder it was read from
};

// Returns the checkpoint's folder.
// `optimizer` is null for SGD, which keeps no state; `masters` (float32 master weights of a bfloat16
// full finetune) are saved too when given, so a resume continues from them exactly.
std::string save_train_checkpoint(LoadedModel& model, const TrainConfig& config, const LoraOptions& lora,
                                  const std::string& config_text, const AdamW* optimizer,
                                  const std::vector<std::pair<std::string, at::Tensor>>* masters, const TrainState& state);

TrainState read_train_state(const std::string& checkpoint_dir);
std::map<std::string, at::Tensor> read_optimizer_state(const std::string& checkpoint_dir);
// Restores the CPU generator, and the CUDA one of `device` when the run is on a GPU.
void restore_rng(const std::string& checkpoint_dir, c10::Device device);
void load_full_weights(LoadedModel& model, const std::string& checkpoint_dir);

// Full finetuning: the weights whose names match one of `patterns` (regexes matched at the start of
// the name; none = every weight) become trainable tensors with their own storage; the rest stay frozen.
// Throws when the patterns match no weight.
std::vector<std::pair<std::string, at::Tensor>> make_full_trainable(LoadedModel& model, const std::vector<std::string>& patterns = {});

// `--resume` takes a run id (its latest checkpoint) or a checkpoint folder.
std::string resolve_resume(const std::string& what, RunStore& store);

}  // namespace lathe
