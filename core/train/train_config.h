// The run configuration `lathe train run.yaml` reads. Keys are Axolotl's wherever Axolotl has one, so
// users can bring their configs; docs/config.md lists every key with its default. Torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/quant/quantization_config.h"

namespace lathe {

struct DatasetSpec {
    std::string path;
    // "" (detected per row from its fields), pretokenized (input_ids, optional labels), text (raw text
    // for continued pretraining, split into sequence_len rows), completion (one text per row, trained
    // whole, in `field`), alpaca (instruction/input/output through the Alpaca prompt), chat_template
    // (messages through the model's chat template); with rl (preference pairs): "" (TRL's forms),
    // chat_template.default or chatml.intel (Axolotl's). docs/config.md has the details.
    std::string type;
    std::string field;                                   // completion: the text column (default "text")
    std::string field_messages;                          // chat_template: the messages column (default "messages")
    std::string field_chosen, field_rejected;            // chat_template.default (rl): the answer columns (default chosen, rejected)
    std::string role_key = "role", content_key = "content";  // chat_template: message_property_mappings
    std::vector<std::string> roles_to_train = {"assistant"};
    bool train_on_eos = true;                            // the end-of-turn token of trained turns ("turn")
    double weight = 1.0;                                 // rows per epoch = weight x rows (0.5 half, 2 twice)
    int line = 0;                                        // where the entry is in the YAML, for messages
};

// One entry of probe_datasets: a named evaluation set (general text, the new domain, ...) whose loss is
// measured at every evaluation, so what continued pretraining forgets and learns shows while it runs.
struct ProbeSpec {
    std::string name;       // unique in the run; the eval events' `probe` and the metric eval_loss/NAME
    DatasetSpec dataset;    // rendered as a `datasets` entry is (its weight is not used)
    int64_t max_rows = 0;   // > 0: at most this many rows (drawn with the run's seed), bounding each evaluation's cost
};

struct TrainConfig {
    std::string source;  // the YAML file

    std::string base_model;
    std::string adapter;                      // "lora", "qlora" (LoRA on 4-bit base weights), or "" for full finetuning
    int64_t lora_r = 8;
    double lora_alpha = 16;
    double lora_dropout = 0.0;
    std::vector<std::string> lora_target_modules;
    bool lora_target_linear = false;          // every linear layer but the output head
    std::string lora_model_dir;               // PEFT adapter to start from
    bool peft_use_rslora = false;
    bool peft_use_dora = false;
    double loraplus_lr_ratio = 0;             // LoRA+: B's learning rate is this times A's (0 = off)
    std::vector<std::string> lora_modules_to_save;  // trained in full beside the adapter (e.g. lm_head)
    // QLoRA (adapter: qlora): the base's decoder-block linear layers in bitsandbytes 4-bit, quantized on
    // load (a float checkpoint) or as stored (a pre-quantized one). Axolotl's keys; the bnb_4bit_* keys
    // are also read from Axolotl's bnb_config_kwargs mapping.
    bool load_in_4bit = false;
    bool load_in_8bit = false;                // read so an Axolotl config says clearly that Lathe has no 8-bit loading
    // Unset: a float checkpoint is quantized with Axolotl's defaults (nf4, double quantization, the
    // run's precision); a pre-quantized one keeps what its config.json says. Set: must agree with it.
    std::string bnb_4bit_quant_type;                    // nf4 or fp4
    std::optional<bool> bnb_4bit_use_double_quant;
    std::string bnb_4bit_compute_dtype;                 // float32, bfloat16 or float16
    // Full finetuning: train only the weights whose names match one of these regexes (matched at the
    // start of the name, as Python's re.match); empty trains every weight.
    std::vector<std::string> unfrozen_parameters;

    std::vector<DatasetSpec> datasets;
    std::vector<DatasetSpec> test_datasets;   // a separate validation set (instead of val_set_size)
    std::vector<ProbeSpec> probe_datasets;    // named evaluation sets, each scored at every evaluation (Lathe's key)
    // lm-evaluation-harness task YAMLs (as `lathe eval --tasks` reads them) scored with the model being
    // trained before step 1, at every evaluation and at the end (Lathe's keys; core/train/task_evaluation.h).
    std::vector<std::string> eval_tasks;
    int64_t eval_tasks_limit = 0;             // > 0: the first N documents of each task (the harness's --limit)
    int64_t eval_tasks_num_fewshot = -1;      // >= 0: overrides the tasks' num_fewshot (--num_fewshot)
    int64_t eval_tasks_batch_size = 16;       // requests scored at once (`lathe eval --batch-size`)
    bool train_on_inputs = false;             // also train on prompt/user tokens
    std::string dataset_prepared_path;        // tokenized-dataset cache ("" = ~/.cache/lathe/datasets)
    bool strict = false;                      // a row that cannot be used stops the run (default: skipped, counted)
    std::string truncation = "right";         // rows over sequence_len: right (keep the start), left (keep the end), drop
    double val_set_size = 0;                  // share of rows held out for evaluation (0..1)
    int64_t sequence_len = 2048;
    bool sample_packing = false;              // several rows share one sequence_len row
    bool shuffle = true;
    int64_t micro_batch_size = 1;
    int64_t gradient_accumulation_steps = 1;
    int64_t num_epochs = 1;
    int64_t max_steps = 0;                    // > 0: train exactly this many steps, through as many epochs as that takes

    std::string optimizer = "adamw_torch";    // adamw_torch / adamw / sgd
    double learning_rate = 2e-4;
    std::string lr_scheduler = "cosine";
    int64_t warmup_steps = 0;
    double warmup_ratio = 0;                  // instead: a share of the run's steps (Axolotl's count, step_plan.h)
    double cosine_min_lr_ratio = 0;
    double weight_decay = 0.0;
    double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
    double max_grad_norm = 1.0;               // 0 = no clipping

    std::string bf16 = "auto";               // auto (bfloat16 on a GPU that has it, else float32), true, false
    bool gradient_checkpointing = false;
    // The base model's own dropout (config.json's attention_dropout; GPT-2's embd/attn/resid_pdrop; Phi-3's
    // resid_pdrop) while training, as transformers' train mode applies it; false turns it off.
    bool base_model_dropout = true;
    std::string device = "auto";              // auto, cpu, cuda, cuda:N

    // Preference tuning (Axolotl's keys; docs/config.md): "" = supervised; dpo, ipo, orpo, simpo.
    std::string rl;
    double dpo_beta = 0.1;                    // DPO/IPO/SimPO's beta (Axolotl's rl_beta is the same key)
    double dpo_label_smoothing = 0.0;         // robust DPO, SimPO
    std::string dpo_loss_type;                // "" = the method's: sigmoid (dpo), ipo (ipo); or robust
    double orpo_alpha = 0.1;                  // ORPO's lambda
    double simpo_gamma = 0.5;
    double cpo_alpha = 1.0;                   // SimPO: weight of the chosen completions' NLL
    bool precompute_ref_log_probs = false;    // DPO with an adapter: reference log-probs once, before training
    int64_t max_length = 0;                   // preference pairs: prompt + completion tokens (0 = sequence_len)
    int64_t max_prompt_length = 0;            // preference pairs: keep the prompt's last N tokens (0 = all)

    std::string output_dir = "./outputs";
    // When to checkpoint and evaluate besides the end (step_plan.h turns them into intervals): every
    // save_steps steps, or a share of the run (save_steps below 1 in the YAML), or saves_per_epoch
    // (Axolotl's: the share 1 / (saves_per_epoch x num_epochs)). The same three for evaluation.
    int64_t save_steps = 0;                   // 0 = only at the end
    double save_steps_fraction = 0;
    int64_t saves_per_epoch = 0;
    int64_t eval_steps = 0;                   // 0 = only at the end (when there is validation data)
    double eval_steps_fraction = 0;
    int64_t evals_per_epoch = 0;
    int64_t save_total_limit = 0;             // 0 = keep every checkpoint
    int64_t early_stopping_patience = 0;      // evaluations without improvement before stopping (0 = off)
    double early_stopping_projection = 0;     // stop once the forecast's band says the rest gains less than this (0 = off)
    uint64_t seed = 42;
    // Data parallel (torchrun / lathe launch, docs/distributed.md): seconds a rank waits for the others,
    // at the rendezvous and in every collective, before it fails. Axolotl's key; torch's default 1800.
    int64_t ddp_timeout = 1800;
    // What data parallel AdamW shards (DeepSpeed's ZeRO stages): 1 = the optimizer state; 2 = the state and
    // the gradients (reduce-scattered to the rank that updates each tensor). No effect in one process.
    int64_t zero_stage = 1;
    // Gradients are reduced in buckets of at most this many MiB (DDP's bucket_cap_mb), each sent as soon as
    // backward has finished with every tensor in it.
    double ddp_bucket_cap_mb = 25;
};

// adapter: lora or qlora: a LoRA-family adapter trains on a frozen base.
inline bool uses_lora(const TrainConfig& c) { return c.adapter == "lora" || c.adapter == "qlora"; }

// What load_in_4bit and the bnb_4bit_* keys ask for on a float checkpoint: Axolotl's defaults (nf4,
// double quantization, compute in the run's precision: bfloat16 when `bf16_compute`) where a key is not given.
quant::BnbQuantizationConfig qlora_quantization(const TrainConfig& c, bool bf16_compute);

// Reads and validates the YAML file. Every problem is reported at once, each naming the key and
// line: "run.yaml:7: learning_rate: must be > 0, got -1".
TrainConfig read_train_config(const std::string& path);
// The same for YAML text in memory (an editor's buffer); `source_name` stands for the file in messages.
TrainConfig parse_train_config(const std::string& yaml_text, const std::string& source_name);
// The YAML that read_train_config reads back as `c`: base_model, datasets, output_dir and the adapter's
// settings always, every other key only where it differs from its default.
std::string train_config_yaml(const TrainConfig& c);

}  // namespace lathe
