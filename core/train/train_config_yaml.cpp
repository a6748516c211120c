// TrainConfig → the YAML `lathe train` reads: what Lathe Studio saves. Numbers are written in their
// shortest exact form so a save/load round trip gives back the same doubles.
#include <yaml-cpp/yaml.h>

#include <charconv>

#include "core/train/train_config.h"

namespace lathe {

namespace {

std::string number(double v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    std::string s(buf, r.ptr);
    // "1e-05" is a string to some YAML readers; "1.0e-05" is a float to all of them.
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    else if (s.find('.') == std::string::npos) s.insert(s.find('e'), ".0");
    return s;
}

}  // namespace

std::string train_config_yaml(const TrainConfig& c) {
    const TrainConfig d;  // defaults
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "base_model" << YAML::Value << c.base_model;
    // Every key of a dataset entry that differs from its default, so a save/load round trip keeps them
    // (written inside the entry's mapping).
    auto dataset_keys = [&](const DatasetSpec& ds) {
        const DatasetSpec dd;
        out << YAML::Key << "path" << YAML::Value << ds.path;
        if (!ds.type.empty()) out << YAML::Key << "type" << YAML::Value << ds.type;
        if (!ds.field.empty()) out << YAML::Key << "field" << YAML::Value << ds.field;
        if (!ds.field_messages.empty()) out << YAML::Key << "field_messages" << YAML::Value << ds.field_messages;
        if (!ds.field_chosen.empty()) out << YAML::Key << "field_chosen" << YAML::Value << ds.field_chosen;
        if (!ds.field_rejected.empty()) out << YAML::Key << "field_rejected" << YAML::Value << ds.field_rejected;
        if (ds.role_key != dd.role_key || ds.content_key != dd.content_key)
            out << YAML::Key << "message_property_mappings" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "role"
                << YAML::Value << ds.role_key << YAML::Key << "content" << YAML::Value << ds.content_key << YAML::EndMap;
        if (ds.roles_to_train != dd.roles_to_train) {
            out << YAML::Key << "roles_to_train" << YAML::Value << YAML::Flow << YAML::BeginSeq;
            for (const auto& r : ds.roles_to_train) out << r;
            out << YAML::EndSeq;
        }
        if (ds.train_on_eos != dd.train_on_eos) out << YAML::Key << "train_on_eos" << YAML::Value << (ds.train_on_eos ? "turn" : "none");
        if (ds.weight != dd.weight) out << YAML::Key << "weight" << YAML::Value << number(ds.weight);
    };
    auto datasets = [&](const char* key, const std::vector<DatasetSpec>& list) {
        out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
        for (const auto& ds : list) {
            out << YAML::BeginMap;
            dataset_keys(ds);
            out << YAML::EndMap;
        }
        out << YAML::EndSeq;
    };
    datasets("datasets", c.datasets);
    if (!c.test_datasets.empty()) datasets("test_datasets", c.test_datasets);
    if (!c.probe_datasets.empty()) {
        out << YAML::Key << "probe_datasets" << YAML::Value << YAML::BeginSeq;
        for (const auto& probe : c.probe_datasets) {
            out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << probe.name;
            dataset_keys(probe.dataset);
            if (probe.max_rows > 0) out << YAML::Key << "max_rows" << YAML::Value << probe.max_rows;
            out << YAML::EndMap;
        }
        out << YAML::EndSeq;
    }
    auto list = [&](const char* key, const std::vector<std::string>& v) {
        if (v.empty()) return;
        out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const auto& s : v) out << s;
        out << YAML::EndSeq;
    };
    auto num = [&](const char* key, double v, double def, bool always = false) {
        if (always || v != def) out << YAML::Key << key << YAML::Value << number(v);
    };
    auto integer = [&](const char* key, int64_t v, int64_t def, bool always = false) {
        if (always || v != def) out << YAML::Key << key << YAML::Value << v;
    };
    auto flag = [&](const char* key, bool v, bool def) {
        if (v != def) out << YAML::Key << key << YAML::Value << (v ? "true" : "false");
    };
    auto str = [&](const char* key, const std::string& v, const std::string& def) {
        if (v != def) out << YAML::Key << key << YAML::Value << v;
    };

    if (!c.adapter.empty()) {
        out << YAML::Key << "adapter" << YAML::Value << c.adapter;
        integer("lora_r", c.lora_r, d.lora_r, true);
        num("lora_alpha", c.lora_alpha, d.lora_alpha, true);
        num("lora_dropout", c.lora_dropout, d.lora_dropout);
        list("lora_target_modules", c.lora_target_modules);
        flag("lora_target_linear", c.lora_target_linear, d.lora_target_linear);
        str("lora_model_dir", c.lora_model_dir, d.lora_model_dir);
        list("lora_modules_to_save", c.lora_modules_to_save);
        flag("peft_use_rslora", c.peft_use_rslora, d.peft_use_rslora);
        flag("peft_use_dora", c.peft_use_dora, d.peft_use_dora);
        num("loraplus_lr_ratio", c.loraplus_lr_ratio, d.loraplus_lr_ratio);
    }
    flag("load_in_4bit", c.load_in_4bit, d.load_in_4bit);
    flag("load_in_8bit", c.load_in_8bit, d.load_in_8bit);
    str("bnb_4bit_quant_type", c.bnb_4bit_quant_type, d.bnb_4bit_quant_type);
    if (c.bnb_4bit_use_double_quant) out << YAML::Key << "bnb_4bit_use_double_quant" << YAML::Value << (*c.bnb_4bit_use_double_quant ? "true" : "false");
    str("bnb_4bit_compute_dtype", c.bnb_4bit_compute_dtype, d.bnb_4bit_compute_dtype);
    list("unfrozen_parameters", c.unfrozen_parameters);
    list("eval_tasks", c.eval_tasks);
    integer("eval_tasks_limit", c.eval_tasks_limit, d.eval_tasks_limit);
    integer("eval_tasks_num_fewshot", c.eval_tasks_num_fewshot, d.eval_tasks_num_fewshot);
    integer("eval_tasks_batch_size", c.eval_tasks_batch_size, d.eval_tasks_batch_size);
    flag("train_on_inputs", c.train_on_inputs, d.train_on_inputs);
    str("dataset_prepared_path", c.dataset_prepared_path, d.dataset_prepared_path);
    flag("strict", c.strict, d.strict);
    str("truncation", c.truncation, d.truncation);
    num("val_set_size", c.val_set_size, d.val_set_size);
    integer("sequence_len", c.sequence_len, d.sequence_len, true);
    flag("sample_packing", c.sample_packing, d.sample_packing);
    flag("shuffle", c.shuffle, d.shuffle);
    integer("micro_batch_size", c.micro_batch_size, d.micro_batch_size, true);
    integer("gradient_accumulation_steps", c.gradient_accumulation_steps, d.gradient_accumulation_steps);
    integer("num_epochs", c.num_epochs, d.num_epochs, true);
    integer("max_steps", c.max_steps, d.max_steps);
    str("optimizer", c.optimizer, d.optimizer);
    num("learning_rate", c.learning_rate, d.learning_rate, true);
    str("lr_scheduler", c.lr_scheduler, d.lr_scheduler);
    integer("warmup_steps", c.warmup_steps, d.warmup_steps);
    num("warmup_ratio", c.warmup_ratio, d.warmup_ratio);
    num("cosine_min_lr_ratio", c.cosine_min_lr_ratio, d.cosine_min_lr_ratio);
    num("weight_decay", c.weight_decay, d.weight_decay);
    num("adam_beta1", c.adam_beta1, d.adam_beta1);
    num("adam_beta2", c.adam_beta2, d.adam_beta2);
    num("adam_epsilon", c.adam_epsilon, d.adam_epsilon);
    num("max_grad_norm", c.max_grad_norm, d.max_grad_norm);
    str("bf16", c.bf16, d.bf16);
    flag("gradient_checkpointing", c.gradient_checkpointing, d.gradient_checkpointing);
    flag("base_model_dropout", c.base_model_dropout, d.base_model_dropout);
    str("device", c.device, d.device);
    str("rl", c.rl, d.rl);
    num("dpo_beta", c.dpo_beta, d.dpo_beta);
    num("dpo_label_smoothing", c.dpo_label_smoothing, d.dpo_label_smoothing);
    str("dpo_loss_type", c.dpo_loss_type, d.dpo_loss_type);
    num("orpo_alpha", c.orpo_alpha, d.orpo_alpha);
    num("simpo_gamma", c.simpo_gamma, d.simpo_gamma);
    num("cpo_alpha", c.cpo_alpha, d.cpo_alpha);
    flag("precompute_ref_log_probs", c.precompute_ref_log_probs, d.precompute_ref_log_probs);
    integer("max_length", c.max_length, d.max_length);
    integer("max_prompt_length", c.max_prompt_length, d.max_prompt_length);
    out << YAML::Key << "output_dir" << YAML::Value << c.output_dir;
    // A share of the run is written as the number below 1 it was read from.
    if (c.save_steps_fraction > 0) num("save_steps", c.save_steps_fraction, 0);
    else integer("save_steps", c.save_steps, d.save_steps);
    integer("saves_per_epoch", c.saves_per_epoch, d.saves_per_epoch);
    if (c.eval_steps_fraction > 0) num("eval_steps", c.eval_steps_fraction, 0);
    else integer("eval_steps", c.eval_steps, d.eval_steps);
    integer("evals_per_epoch", c.evals_per_epoch, d.evals_per_epoch);
    integer("save_total_limit", c.save_total_limit, d.save_total_limit);
    integer("early_stopping_patience", c.early_stopping_patience, d.early_stopping_patience);
    num("early_stopping_projection", c.early_stopping_projection, d.early_stopping_projection);
    integer("ddp_timeout", c.ddp_timeout, d.ddp_timeout);
    integer("zero_stage", c.zero_stage, d.zero_stage);
    num("ddp_bucket_cap_mb", c.ddp_bucket_cap_mb, d.ddp_bucket_cap_mb);
    if (c.seed != d.seed) out << YAML::Key << "seed" << YAML::Value << c.seed;
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

}  // namespace lathe
