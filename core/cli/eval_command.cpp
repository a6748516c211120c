#include "core/cli/eval_command.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <optional>
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
namespace fs = std::filesystem;

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

std::vector<EvalScore> eval_scores_of_report(const Json& report, int64_t limit) {
    std::vector<EvalScore> scores;
    if (!report.contains("results")) return scores;
    for (const auto& [task, metrics] : report["results"].items()) {
        int64_t shots = 0;
        if (report.contains("configs") && report["configs"].contains(task) && report["configs"][task].contains("num_fewshot"))
            shots = report["configs"][task]["num_fewshot"].get<int64_t>();
        for (const auto& [key, value] : metrics.items()) {
            const auto comma = key.find(',');
            if (comma == std::string::npos || key.find("_stderr,") != std::string::npos || !value.is_number()) continue;
            EvalScore s;
            s.task = task;
            s.metric = key.substr(0, comma);
            s.filter = key.substr(comma + 1);
            s.value = value.get<double>();
            const std::string stderr_key = s.metric + "_stderr," + s.filter;
            if (metrics.contains(stderr_key) && metrics[stderr_key].is_number()) s.stderr_value = metrics[stderr_key].get<double>();
            s.num_fewshot = shots;
            s.limit = limit;
            scores.push_back(std::move(s));
        }
    }
    return scores;
}

std::string eval_model_label(const EvalCommand& cmd, const std::string& run_base_model, int64_t checkpoint_step) {
    if (cmd.run_id > 0) return "checkpoint " + std::to_string(checkpoint_step);
    const auto same = [](const std::string& a, const std::string& b) {
        std::error_code ec;
        return !a.empty() && !b.empty() && (a == b || fs::equivalent(a, b, ec));
    };
    if (cmd.adapter_dir.empty() && same(cmd.model_dir, run_base_model)) return "base";
    return "model " + cmd.model_dir + (cmd.adapter_dir.empty() ? "" : " + adapter " + cmd.adapter_dir);
}

void run_eval(const EvalCommand& cmd, std::ostream& out) {
    if (cmd.tasks.empty()) throw Error("--tasks: give at least one task YAML file");
    // The run to record under must exist before minutes of scoring, not after.
    std::unique_ptr<RunStore> record_store;
    std::optional<RunRecord> record_run;
    if (cmd.record_run > 0) {
        record_store = RunStore::open(cmd.store.empty() ? RunStore::default_path() : cmd.store);
        record_run = record_store->find_run(cmd.record_run);
        if (!record_run)
            throw Error("--record-run " + std::to_string(cmd.record_run) + ": no such run in " + record_store->path() + " (see `lathe runs list`)");
    }
    if (cmd.batch_size < 1) throw Error("--batch-size must be at least 1");
    LoadOptions options;
    options.device = parse_device(cmd.device);
    if (!cmd.dtype.empty()) options.dtype = parse_dtype(cmd.dtype);
    // What to load: the folder (and adapter) given, or a run's checkpoint resolved as export does.
    std::string model_dir = cmd.model_dir, adapter_dir = cmd.adapter_dir, tokenizer_dir = cmd.model_dir;
    int64_t checkpoint_step = -1;
    if (cmd.run_id > 0) {
        if (!cmd.adapter_dir.empty()) throw Error("--run " + std::to_string(cmd.run_id) + " and --adapter: give one (a run's checkpoint is its adapter)");
        ExportSource source = resolve_export_source({.run_id = cmd.run_id, .checkpoint = cmd.checkpoint, .store = cmd.store, .adapter_dir = "", .model_dir = "", .base_model = cmd.model_dir});
        checkpoint_step = source.provenance.step;
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
    if (record_store) {
        std::vector<EvalScore> scores = eval_scores_of_report(report, cmd.limit);
        const std::string label = eval_model_label(cmd, record_run->model, checkpoint_step);
        for (EvalScore& s : scores) {
            s.model = label;
            s.step = cmd.run_id == cmd.record_run ? checkpoint_step : -1;
        }
        record_store->add_eval_scores(cmd.record_run, scores);
        std::cerr << "lathe: recorded " << scores.size() << " scores of " << label << " beside run " << cmd.record_run << "\n";
    }
    if (cmd.json) {
        Json result = {{"event", "result"}};
        result.update(report);
        out << result.dump() << "\n";
    } else {
        print_table(report, out);
    }
}

}  // namespace lathe
