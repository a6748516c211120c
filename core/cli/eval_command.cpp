#include "core/cli/eval_command.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "core/adapters/peft.h"
#include "core/eval/evaluate.h"
#include "core/export/export_source.h"
#include "core/models/loader.h"
#include "core/text/text_tokenizer.h"
#include "core/util/error.h"

namespace lathe {

namespace {

using Json = nlohmann::ordered_json;

std::string format_value(const Json& v) {
    if (!v.is_number()) return v.is_string() ? v.get<std::string>() : v.dump();
    char buf[64];
    double d = v.get<double>();
    std::snprintf(buf, sizeof buf, std::abs(d) >= 1e6 ? "%.6g" : "%.4f", d);
    return buf;
}

// The harness's table: Tasks | Filter | n-shot | Metric | Value | ± Stderr.
void print_table(const Json& report, std::ostream& out) {
    std::vector<std::vector<std::string>> rows = {{"Tasks", "Filter", "n-shot", "Metric", "Value", "Stderr"}};
    for (const auto& [task, metrics] : report["results"].items()) {
        std::string shots = std::to_string(report["configs"][task]["num_fewshot"].get<int64_t>());
        for (const auto& [key, value] : metrics.items()) {
            auto comma = key.find(',');
            if (key == "alias" || comma == std::string::npos || key.find("_stderr,") != std::string::npos) continue;
            std::string metric = key.substr(0, comma), filter = key.substr(comma + 1);
            std::string stderr_key = metric + "_stderr," + filter;
            rows.push_back({task, filter, shots, metric, format_value(value), metrics.contains(stderr_key) ? format_value(metrics[stderr_key]) : "N/A"});
        }
    }
    std::vector<size_t> width(rows[0].size(), 0);
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    for (size_t k = 0; k < rows.size(); ++k) {
        out << "|";
        for (size_t i = 0; i < rows[k].size(); ++i) out << " " << std::setw(static_cast<int>(width[i])) << std::left << rows[k][i] << " |";
        out << "\n";
        if (k == 0) {
            out << "|";
            for (size_t i = 0; i < width.size(); ++i) out << std::string(width[i] + 2, '-') << "|";
            out << "\n";
        }
    }
}

}  // namespace

void run_eval(const EvalCommand& cmd, std::ostream& out) {
    if (cmd.tasks.empty()) throw Error("--tasks: give at least one task YAML file");
    if (cmd.batch_size < 1) throw Error("--batch-size must be at least 1");
    LoadOptions options;
    options.device = parse_device(cmd.device);
    if (!cmd.dtype.empty()) options.dtype = parse_dtype(cmd.dtype);
    // What to load: the folder (and adapter) given, or a run's checkpoint resolved as export does.
    std::string model_dir = cmd.model_dir, adapter_dir = cmd.adapter_dir, tokenizer_dir = cmd.model_dir;
    if (cmd.run_id > 0) {
        if (!cmd.adapter_dir.empty()) throw Error("--run " + std::to_string(cmd.run_id) + " and --adapter: give one (a run's checkpoint is its adapter)");
        ExportSource source = resolve_export_source({.run_id = cmd.run_id, .checkpoint = cmd.checkpoint, .store = cmd.store, .base_model = cmd.model_dir});
        model_dir = source.weights_dir;
        adapter_dir = source.adapter_dir;
        // A checkpoint holds weights, not the tokenizer: that stays with the base model.
        tokenizer_dir = TextTokenizer::exists_in(model_dir) ? model_dir : source.base_model;
        options.load_in_4bit = source.quantize_base;  // a QLoRA run's adapter was trained over the 4-bit base
    } else if (cmd.model_dir.empty()) {
        throw Error("give --model DIR (and optionally --adapter DIR) or --run ID: the model to evaluate");
    }
    if (!TextTokenizer::exists_in(tokenizer_dir))
        throw Error(tokenizer_dir + ": no tokenizer (tokenizer.json or tokenizer.model); lathe eval works on text");
    auto model = load_model(model_dir, options);
    if (!model->lm) throw Error(model_dir + ": a " + model->config.model_type + " model does not score text; lathe eval needs a causal LM");
    if (!adapter_dir.empty()) attach_peft_adapter(*model, adapter_dir);
    TextTokenizer tokenizer = TextTokenizer::load(tokenizer_dir);

    eval::EvalOptions eo;
    if (cmd.limit >= 0) eo.limit = cmd.limit;
    if (cmd.num_fewshot >= 0) eo.num_fewshot = cmd.num_fewshot;
    eo.batch_size = cmd.batch_size;
    eo.log_samples = cmd.log_samples;
    eo.on_event = [&](const Json& e) {
        if (cmd.json) {
            out << e.dump() << "\n" << std::flush;
        } else {
            char line[160];
            std::snprintf(line, sizeof line, "%s: %zu/%zu requests (%.0f%%), %.1f s elapsed, ETA %.1f s\n", e["task"].get<std::string>().c_str(),
                          e["done"].get<size_t>(), e["total"].get<size_t>(), 100.0 * e["fraction"].get<double>(), e["elapsed_s"].get<double>(),
                          e["eta_s"].get<double>());
            out << line << std::flush;
        }
    };
    Json report = eval::evaluate_tasks(*model->lm, tokenizer, cmd.tasks, eo);
    if (cmd.json) {
        Json result = {{"event", "result"}};
        result.update(report);
        out << result.dump() << "\n";
    } else {
        print_table(report, out);
    }
}

}  // namespace lathe
