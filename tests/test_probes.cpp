// probe_datasets: the configuration key (read, validated, written back), and forgetting made visible: a tiny
// model pretrained on one generated corpus and continued on another shows its first corpus's probe loss
// rising, and a replay share of that corpus mixed in (dataset weight) keeps the rise smaller.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "core/runs/run_store.h"
#include "core/train/events.h"
#include "core/train/train_config.h"
#include "core/util/error.h"
#include "tests/child_process.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::write_file;
using nlohmann::json;

std::string config_error(const std::string& yaml) {
    try {
        parse_train_config(yaml, "run.yaml");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

const std::string kHead = "base_model: /m\ndatasets:\n  - path: d.jsonl\n";

TEST(TrainConfig, ProbeDatasetsAreNamedDatasetEntries) {
    TrainConfig c = parse_train_config(kHead +
                                           "probe_datasets:\n"
                                           "  - name: general\n    path: web.jsonl\n    type: text\n    max_rows: 64\n"
                                           "  - name: domain\n    path: law.jsonl\n    type: completion\n    field: body\n",
                                       "run.yaml");
    ASSERT_EQ(c.probe_datasets.size(), 2u);
    EXPECT_EQ(c.probe_datasets[0].name, "general");
    EXPECT_EQ(c.probe_datasets[0].dataset.path, "web.jsonl");
    EXPECT_EQ(c.probe_datasets[0].dataset.type, "text");
    EXPECT_EQ(c.probe_datasets[0].max_rows, 64);
    EXPECT_EQ(c.probe_datasets[1].name, "domain");
    EXPECT_EQ(c.probe_datasets[1].dataset.field, "body");
    EXPECT_EQ(c.probe_datasets[1].max_rows, 0);

    // What the Studio saves reads back the same.
    TrainConfig back = parse_train_config(train_config_yaml(c), "saved.yaml");
    ASSERT_EQ(back.probe_datasets.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(back.probe_datasets[i].name, c.probe_datasets[i].name);
        EXPECT_EQ(back.probe_datasets[i].dataset.path, c.probe_datasets[i].dataset.path);
        EXPECT_EQ(back.probe_datasets[i].dataset.type, c.probe_datasets[i].dataset.type);
        EXPECT_EQ(back.probe_datasets[i].dataset.field, c.probe_datasets[i].dataset.field);
        EXPECT_EQ(back.probe_datasets[i].max_rows, c.probe_datasets[i].max_rows);
    }
    EXPECT_EQ(train_config_yaml(parse_train_config(kHead, "plain.yaml")).find("probe_datasets"), std::string::npos);
}

TEST(TrainConfig, ProbeDatasetProblemsNameTheEntry) {
    EXPECT_NE(config_error(kHead + "probe_datasets:\n  - path: web.jsonl\n").find("run.yaml:5: probe_datasets: each entry needs a 'name'"),
              std::string::npos);
    EXPECT_NE(config_error(kHead + "probe_datasets:\n  - web.jsonl\n").find("probe_datasets: each entry is a {name, path, type, ...} mapping"),
              std::string::npos);
    const std::string twice = config_error(kHead + "probe_datasets:\n  - name: a\n    path: x\n  - name: a\n    path: y\n");
    EXPECT_NE(twice.find("run.yaml:7: probe_datasets.name: 'a' names another probe already"), std::string::npos) << twice;
    EXPECT_NE(config_error(kHead + "probe_datasets:\n  - name: a\n    path: x\n    max_rows: 0\n").find("probe_datasets.max_rows: must be >= 1"),
              std::string::npos);
    EXPECT_NE(config_error(kHead + "probe_datasets:\n  - name: a\n    path: x\n    weight: 0.5\n").find("probe_datasets.weight: applies to datasets"),
              std::string::npos);
    const std::string unknown = config_error(kHead + "probe_datasets:\n  - name: a\n    path: x\n    rows: 5\n");
    EXPECT_NE(unknown.find("probe_datasets.rows: unknown key (a dataset has name, max_rows, path, type"), std::string::npos) << unknown;
    EXPECT_NE(config_error(kHead + "probe_datasets:\n  - name: a\n").find("each entry needs a 'path'"), std::string::npos);
    EXPECT_NE(config_error(kHead + "rl: dpo\nprobe_datasets:\n  - name: a\n    path: x\n").find("probe_datasets: is not supported with rl yet"),
              std::string::npos);
    // The `datasets` list still names only its own keys.
    EXPECT_NE(config_error("base_model: /m\ndatasets:\n  - path: d\n    name: x\n").find("unknown key (a dataset has path, type"), std::string::npos);
}

// Two corpora with clearly different statistics and no token in common: runs of the alphabet, and runs
// of digits, each document starting at a random place in its cycle.
void write_corpus(const fs::path& path, const std::string& symbols, int documents, uint32_t seed) {
    std::mt19937 rng(seed);
    std::ofstream out(path);
    for (int d = 0; d < documents; ++d) {
        std::string text;
        size_t at = rng() % symbols.size();
        for (int i = 0; i < 40; ++i, at = (at + 1) % symbols.size()) {
            if (i) text += ' ';
            text += symbols[at];
        }
        out << json{{"text", text}}.dump() << "\n";
    }
}

// Probe losses by name and step, from a run's eval events (the validation set's have no `probe`).
std::map<std::string, std::map<int64_t, double>> probe_losses(const std::vector<json>& events) {
    std::map<std::string, std::map<int64_t, double>> out;
    for (const json& e : events)
        if (e.value("event", "") == "eval" && e.contains("probe")) out[e.at("probe").get<std::string>()][e.at("step").get<int64_t>()] = e.at("eval_loss").get<double>();
    return out;
}

TEST(TrainRun, ProbesShowForgettingAndReplayReducesIt) {
    test::TempDir dir;
    test::TempDir model_dir;
    const std::string random_model = test::model_with_tokenizer(model_dir);
    const std::string letters = "abcdefghijklmnopqrstuvwxyz", digits = "0123456789";
    write_corpus(dir.path / "general.jsonl", letters, 64, 1);
    write_corpus(dir.path / "general_probe.jsonl", letters, 16, 2);
    write_corpus(dir.path / "domain.jsonl", digits, 64, 3);
    write_corpus(dir.path / "domain_probe.jsonl", digits, 16, 4);
    const std::string store = dir.str() + "/lathe.db", common = "sequence_len: 32\nmicro_batch_size: 8\noptimizer: adamw_torch\ndevice: cpu\n"
                                                              "dataset_prepared_path: " + dir.str() + "/prepared\n";
    const std::string probes = "probe_datasets:\n"
                               "  - name: general\n    path: " + (dir.path / "general_probe.jsonl").string() + "\n    type: text\n"
                               "  - name: domain\n    path: " + (dir.path / "domain_probe.jsonl").string() + "\n    type: text\n    max_rows: 12\n";

    // Pretraining on the general corpus, every weight.
    int code = -1;
    auto events = test::run_to_end({LATHE_CLI, "train",
                                    write_file(dir.path / "pretrain.yaml", "base_model: " + random_model + "\ndatasets:\n  - path: " +
                                                                               (dir.path / "general.jsonl").string() + "\n    type: text\n" + common +
                                                                               "learning_rate: 0.003\nlr_scheduler: constant\nmax_steps: 60\noutput_dir: " +
                                                                               dir.str() + "/pretrain\n"),
                                    "--store", store},
                                   &code);
    ASSERT_EQ(code, 0) << (events.empty() ? std::string() : events.back().dump());
    std::string checkpoint;
    for (const json& e : events)
        if (e.value("event", "") == "checkpoint") checkpoint = e.at("path").get<std::string>();
    ASSERT_FALSE(checkpoint.empty());
    // The pretrained model: the tokenizer beside the checkpoint's weights.
    const fs::path pretrained = dir.path / "pretrained";
    fs::create_directory(pretrained);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "config.json"}) fs::copy_file(fs::path(random_model) / f, pretrained / f);
    fs::copy_file(fs::path(checkpoint) / "model.safetensors", pretrained / "model.safetensors");

    // Continued pretraining on the domain corpus: re-warmed, cosine re-decay, probes of both corpora.
    auto continued = [&](const std::string& name, const std::string& replay) {
        int rc = -1;
        auto ev = test::run_to_end({LATHE_CLI, "train",
                                    write_file(dir.path / (name + ".yaml"), "base_model: " + pretrained.string() + "\ndatasets:\n  - path: " +
                                                                                (dir.path / "domain.jsonl").string() + "\n    type: text\n" + replay + common +
                                                                                probes + "learning_rate: 0.003\nlr_scheduler: cosine\nwarmup_steps: 5\n"
                                                                                "cosine_min_lr_ratio: 0.1\nmax_steps: 40\neval_steps: 5\noutput_dir: " +
                                                                                dir.str() + "/" + name + "\n"),
                                    "--store", store},
                                   &rc);
        EXPECT_EQ(rc, 0) << (ev.empty() ? std::string() : ev.back().dump());
        // The run store keeps each probe's curve under its own metric names (what the Monitor reads back).
        if (!ev.empty()) {
            auto runs = RunStore::open(store);
            const int64_t run = ev.front().at("run_id").get<int64_t>();
            EXPECT_EQ(runs->metrics(run, probe_loss_metric("general")).size(), 9u);
            EXPECT_EQ(runs->metrics(run, probe_perplexity_metric("domain")).size(), 9u);
            EXPECT_TRUE(runs->metrics(run, "eval_loss").empty());  // no validation set in this run
        }
        return probe_losses(ev);
    };
    auto plain = continued("plain", "");
    // A replay share of the general corpus: every row once each epoch beside the domain's, half of the mix.
    auto replayed = continued("replay", "  - path: " + (dir.path / "general.jsonl").string() + "\n    type: text\n    weight: 1.0\n");

    for (const auto* run : {&plain, &replayed}) {
        ASSERT_EQ(run->size(), 2u);
        // Step 0 (before any training), every eval_steps, and the end.
        std::vector<int64_t> steps;
        for (const auto& [step, _] : run->at("general")) steps.push_back(step);
        EXPECT_EQ(steps, (std::vector<int64_t>{0, 5, 10, 15, 20, 25, 30, 35, 40}));
        EXPECT_EQ(run->at("domain").size(), steps.size());
        // The new domain is learned either way.
        EXPECT_LT(run->at("domain").at(40), run->at("domain").at(0) - 1.0);
    }
    auto rise = [](const std::map<int64_t, double>& general) {
        double peak = general.at(0);
        for (const auto& [step, loss] : general) peak = std::max(peak, loss);
        return peak - general.at(0);
    };
    const double forgotten = rise(plain.at("general")), kept = rise(replayed.at("general"));
    std::cout << "general probe: " << plain.at("general").at(0) << " before; rise " << forgotten << " without replay, " << kept << " with\n";
    EXPECT_GT(forgotten, 0.5) << "continuing on the digits should make the alphabet's loss rise";
    EXPECT_LT(kept, 0.5 * forgotten) << "replaying the alphabet should keep the rise smaller";
}

}  // namespace
}  // namespace lathe
