// `lathe eval`: lm-evaluation-harness task YAMLs read as the harness reads them, and (label interop)
// every per-document log-likelihood, generation and metric compared with the harness itself (lm-eval
// 0.4.13, `hf` backend on the CPU, run at test time by tests/interop/lm_eval_references.py).
#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/randn.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/eval/filters.h"
#include "core/eval/task_config.h"
#include "core/util/error.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

using Json = nlohmann::json;

struct CommandRun {
    int code;
    std::string out;  // stdout, or stdout and stderr together when asked
};

CommandRun run(const std::string& cmd, bool with_stderr) {
    std::string full = cmd + (with_stderr ? " 2>&1" : " 2>/dev/null");
    FILE* pipe = popen(full.c_str(), "r");
    std::string out;
    std::array<char, 4096> buf;
    while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
    int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

void write(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }

std::string error_of(const std::string& yaml) {
    test::TempDir dir;
    write(dir.path / "t.yaml", yaml);
    try {
        eval::load_task_config((dir.path / "t.yaml").string());
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(EvalTaskConfig, KeysLatheCannotHonourAreNamedWithTheirLine) {
    std::string e = error_of(
        "task: t\n"
        "dataset_path: hellaswag\n"
        "test_split: test\n"
        "process_docs: !function utils.process_docs\n"
        "doc_to_text: q\n"
        "doc_to_target: a\n"
        "generation_kwargs:\n"
        "  until: [\"\\n\"]\n"
        "  do_sample: true\n");
    EXPECT_NE(e.find("t.yaml:2: dataset_path: 'hellaswag'"), std::string::npos) << e;
    EXPECT_NE(e.find("t.yaml:4: process_docs: !function"), std::string::npos) << e;
    EXPECT_NE(e.find("generation_kwargs.do_sample"), std::string::npos) << e;
}

TEST(EvalTaskConfig, IncludedFileIsOverriddenByTheIncludingOne) {
    test::TempDir dir;
    write(dir.path / "base.yaml",
          "dataset_path: json\ndataset_kwargs:\n  data_files:\n    test: x.jsonl\ntest_split: test\n"
          "output_type: multiple_choice\ndoc_to_text: q\ndoc_to_target: 0\ndoc_to_choice: [\"a\", \"b\"]\ntarget_delimiter: \":\"\n");
    write(dir.path / "t.yaml", "include: base.yaml\ntask: child\ntarget_delimiter: \" \"\n");
    auto c = eval::load_task_config((dir.path / "t.yaml").string());
    EXPECT_EQ(c.task, "child");
    EXPECT_EQ(c.target_delimiter, " ");
    EXPECT_EQ(c.output_type, eval::OutputType::multiple_choice);
    EXPECT_EQ(c.doc_to_target, 0);
    ASSERT_EQ(c.metrics.size(), 2u);  // the harness's default for multiple_choice: acc, acc_norm
    EXPECT_EQ(c.metrics[0].name, "acc");
    EXPECT_EQ(c.metrics[1].name, "acc_norm");
    EXPECT_EQ(c.data_files.at("test"), std::vector<std::string>{"x.jsonl"});
}

// What Python's re.findall gives for these (the harness's RegexFilter picks from it).
TEST(EvalFilters, RegexPicksAsTheHarnessDoes) {
    eval::FilterPipeline p{.name = "n", .steps = {eval::FilterStep{.function = "regex", .regex_pattern = "(\\d+)"}, eval::FilterStep{.function = "take_first"}}};
    EXPECT_EQ(eval::apply_filter(p, "a 12 b 345"), "12");
    p.steps[0].group_select = -1;
    EXPECT_EQ(eval::apply_filter(p, "a 12 b 345"), "345");
    EXPECT_EQ(eval::apply_filter(p, "none here"), "[invalid]");
    // Several groups: the first non-empty one of the chosen match, stripped.
    p.steps[0] = eval::FilterStep{.function = "regex", .regex_pattern = "answer is (\\d+)|#### ( ?\\d+)"};
    EXPECT_EQ(eval::apply_filter(p, "so #### 42"), "42");
    EXPECT_EQ(eval::regex_remove(",", "1,234,5"), "12345");
}

// A model folder with the qwen-hf fixture tokenizer and random Qwen2 weights (its own seed) that
// transformers loads too.
std::string eval_model(const test::TempDir& dir) { return test::model_with_tokenizer(dir); }

// The tasks of the interop test: every output type, few-shot from another split and from the test
// split itself, a description, choices from a field and from a template, an index and a text target,
// CSV data, the regex filter, and a document longer than the model's 256 positions (rolling windows).
void write_tasks(const std::filesystem::path& d) {
    const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "looked", "at", "birds", "in", "warm", "sun", "while", "dogs", "ran", "far", "away", "from", "home"};
    uint64_t state = 7;
    auto sent = [&](int n) {
        std::string s;
        for (int i = 0; i < n; ++i) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            s += (i ? " " : "") + std::string(words[(state >> 33) % 20]);
        }
        return s;
    };
    std::ofstream mc_test(d / "mc_test.jsonl"), mc_train(d / "mc_train.jsonl"), mc2(d / "mc2.jsonl"), ll(d / "ll.jsonl"), roll(d / "roll.jsonl"),
        gen(d / "gen.csv");
    for (int i = 0; i < 7; ++i)
        mc_test << Json{{"question", sent(6) + "?"}, {"choices", {sent(2), sent(3), " " + sent(1), sent(4)}}, {"label", i % 4}}.dump() << "\n";
    for (int i = 0; i < 5; ++i)
        mc_train << Json{{"question", sent(5) + "?"}, {"choices", {sent(2), sent(1), sent(2), sent(3)}}, {"label", (i + 1) % 4}}.dump() << "\n";
    for (int i = 0; i < 6; ++i) mc2 << Json{{"premise", sent(7)}, {"opt_a", sent(2)}, {"opt_b", "it's " + sent(2)}, {"label", i % 2}}.dump() << "\n";
    for (int i = 0; i < 5; ++i) ll << Json{{"prefix", sent(8) + (i % 2 ? " " : "")}, {"suffix", sent(3)}}.dump() << "\n";
    roll << Json{{"text", sent(40)}}.dump() << "\n" << Json{{"text", sent(300) + "\n\n" + sent(100)}}.dump() << "\n"
         << Json{{"text", "Short  text,\twith  spaces."}}.dump() << "\n";
    gen << "q,answer\n";
    for (int i = 0; i < 5; ++i) gen << "\"" << sent(4) << " " << i << "+" << i << "\"," << 2 * i << "\n";
    const std::string dir = d.string();
    write(d / "mc.yaml", "task: lathe_mc\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: " + dir + "/mc_test.jsonl\n    train: " + dir +
                             "/mc_train.jsonl\ntest_split: test\ntraining_split: train\noutput_type: multiple_choice\n"
                             "description: \"Answer the questions.\\n\\n\"\ndoc_to_text: \"Question: {{question}}\\nAnswer:\"\ndoc_to_choice: choices\n"
                             "doc_to_target: label\nnum_fewshot: 2\nmetric_list:\n  - metric: acc\n  - metric: acc_norm\n");
    write(d / "mc2.yaml", "task: lathe_mc2\ndataset_path: json\ndataset_kwargs:\n  data_files: " + dir +
                              "/mc2.jsonl\ntest_split: train\noutput_type: multiple_choice\ndoc_to_text: \"{{premise}}. So\"\n"
                              "doc_to_choice: \"{{[opt_a, opt_b]}}\"\ndoc_to_target: \"{{label}}\"\nmetric_list:\n  - metric: acc\n"
                              "  - metric: acc_norm\n  - metric: exact_match\n");
    write(d / "ll.yaml", "task: lathe_ll\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    validation: " + dir +
                             "/ll.jsonl\nvalidation_split: validation\noutput_type: loglikelihood\ndoc_to_text: \"{{prefix}}\"\n"
                             "doc_to_target: \"{{' ' + suffix}}\"\n");
    write(d / "roll.yaml", "task: lathe_roll\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: " + dir +
                               "/roll.jsonl\ntest_split: test\noutput_type: loglikelihood_rolling\ndoc_to_text: \"\"\ndoc_to_target: text\n");
    write(d / "gen.yaml", "task: lathe_gen\ndataset_path: csv\ndataset_kwargs:\n  data_files:\n    test: " + dir +
                              "/gen.csv\ntest_split: test\nfewshot_split: test\nnum_fewshot: 2\noutput_type: generate_until\n"
                              "doc_to_text: \"Q: {{q}}\\nA:\"\ndoc_to_target: \"{{answer}}\"\ngeneration_kwargs:\n  until: [\"\\n\", \".\"]\n"
                              "  max_gen_toks: 12\n  do_sample: false\nfilter_list:\n  - name: strict\n    filter:\n      - function: take_first\n"
                              "  - name: number\n    filter:\n      - function: regex\n        regex_pattern: \"(\\\\d+)\"\n"
                              "      - function: take_first\nmetric_list:\n  - metric: exact_match\n");
}

TEST(EvalCli, BadTaskFailsNamingTheKey) {
    test::TempDir model_dir, tasks;
    std::string model = eval_model(model_dir);
    write(tasks.path / "t.yaml", "task: t\ndataset_path: json\ndataset_kwargs:\n  data_files: x.jsonl\ntest_split: train\n"
                                 "doc_to_text: q\ndoc_to_target: a\nuse_prompt: \"promptsource:x\"\n");
    CommandRun r = run(std::string(LATHE_CLI) + " eval --model " + model + " --tasks " + (tasks.path / "t.yaml").string(), true);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("t.yaml:8: use_prompt"), std::string::npos) << r.out;
}

const char* interop_refs() { return std::getenv("LATHE_INTEROP_REFS"); }

// Perplexity-like metrics are exp or multiples of mean log-likelihoods: compare those within 1e-3.
bool loglikelihood_metric(const std::string& key) {
    return key.rfind("perplexity", 0) == 0 || key.rfind("word_perplexity", 0) == 0 || key.rfind("byte_perplexity", 0) == 0 ||
           key.rfind("bits_per_byte", 0) == 0;
}

// Runs `lathe eval` and lm-eval (tests/interop/lm_eval_references.py) on MODEL with the tasks above and
// compares everything both report. `extra` goes to both command lines (e.g. " --limit 4").
void compare_with_harness(const std::string& model, const std::string& extra) {
    test::TempDir tasks;
    write_tasks(tasks.path);
    std::string files;
    for (const char* t : {"mc", "mc2", "ll", "roll", "gen"}) files += (files.empty() ? "" : ",") + (tasks.path / (std::string(t) + ".yaml")).string();
    CommandRun lathe_run = run(std::string(LATHE_CLI) + " eval --json --log-samples --batch-size 3 --model " + model + " --tasks " + files + extra, false);
    ASSERT_EQ(lathe_run.code, 0) << lathe_run.out;
    // JSON lines: progress events with an ETA, then the result object.
    std::istringstream lines(lathe_run.out);
    std::string line;
    Json ours;
    int progress_events = 0;
    while (std::getline(lines, line)) {
        Json e = Json::parse(line);
        if (e["event"] == "progress") {
            ++progress_events;
            EXPECT_TRUE(e.contains("eta_s"));
        } else {
            ours = e;
        }
    }
    EXPECT_GT(progress_events, 0);
    ASSERT_EQ(ours["event"], "result");

    std::string refs = (tasks.path / "refs.json").string();
    CommandRun ref_run = run(std::string(LATHE_SOURCE_DIR) + "/.venv-interop/bin/python " + LATHE_SOURCE_DIR + "/tests/interop/lm_eval_references.py " +
                          model + " " + tasks.str() + " lathe_mc,lathe_mc2,lathe_ll,lathe_roll,lathe_gen " + refs + extra,
                      true);
    ASSERT_EQ(ref_run.code, 0) << ref_run.out;
    Json theirs = Json::parse(std::ifstream(refs));

    for (const auto& [task, metrics] : theirs["results"].items()) {
        SCOPED_TRACE(task);
        ASSERT_TRUE(ours["results"].contains(task));
        EXPECT_EQ(ours["n-samples"][task], theirs["n-samples"][task]);
        EXPECT_EQ(ours["configs"][task]["num_fewshot"], theirs["num_fewshot"][task]);
        for (const auto& [key, value] : metrics.items()) {
            if (key.find(',') == std::string::npos) continue;  // name, alias, sample_len
            SCOPED_TRACE(key);
            ASSERT_TRUE(ours["results"][task].contains(key));
            const Json& mine = ours["results"][task][key];
            if (value.is_string()) {
                EXPECT_EQ(mine, value);  // "N/A"
            } else if (loglikelihood_metric(key)) {
                double a = mine.get<double>(), b = value.get<double>();
                if (key.rfind("bits_per_byte", 0) == 0) {
                    EXPECT_NEAR(a, b, 1e-3);
                } else {
                    EXPECT_NEAR(std::log(a), std::log(b), 1e-3);  // exp(-mean log-likelihood), or its bootstrap spread
                }
            } else {
                EXPECT_EQ(mine.get<double>(), value.get<double>());  // acc, acc_norm, exact_match and their stderr: identical
            }
        }
        const Json& our_samples = ours["samples"][task];
        const Json& their_samples = theirs["samples"][task];
        ASSERT_EQ(our_samples.size(), their_samples.size());
        for (size_t d = 0; d < their_samples.size(); ++d) {
            SCOPED_TRACE("doc " + std::to_string(d));
            const Json& a = our_samples[d];
            const Json& b = their_samples[d];
            EXPECT_EQ(a["doc_id"], b["doc_id"]);
            EXPECT_EQ(a["arguments"], b["arguments"]);  // the same contexts (few-shot draws) and continuations
            if (b.contains("loglikelihoods")) {
                ASSERT_EQ(a["loglikelihoods"].size(), b["loglikelihoods"].size());
                for (size_t i = 0; i < b["loglikelihoods"].size(); ++i)
                    EXPECT_NEAR(a["loglikelihoods"][i].get<double>(), b["loglikelihoods"][i].get<double>(), 1e-3);
                EXPECT_EQ(a["is_greedy"], b["is_greedy"]);
            }
            if (b.contains("loglikelihood")) {
                EXPECT_NEAR(a["loglikelihood"].get<double>(), b["loglikelihood"].get<double>(), 1e-3);
            }
            if (b.contains("generation")) {
                EXPECT_EQ(a["generation"], b["generation"]);
                for (const auto& [filter, text] : b["filtered"].items()) EXPECT_EQ(a["filtered_resps," + filter], text);
            }
            for (const auto& [key, value] : b["metrics"].items()) {
                if (!loglikelihood_metric(key) && value.is_number()) {
                    EXPECT_EQ(a[key].get<double>(), value.get<double>()) << key;
                }
            }
        }
    }
}


TEST(EvalInterop, EveryLogLikelihoodAndMetricMatchesLmEvalHarness) {
    if (!interop_refs()) GTEST_SKIP() << "LATHE_INTEROP_REFS not set; run through ctest, which sets up the venv";
    test::TempDir model_dir;
    compare_with_harness(eval_model(model_dir), "");
}

// The real SmolLM2-135M-Instruct (the demo model's GGUF, imported by Lathe into a float32 folder that
// transformers loads too): meaningful generations, so the stop strings and the regex filter are
// exercised on real answers. Needs the gguf_refs fixture (label slow).
TEST(EvalSmolLM2, MatchesLmEvalHarness) {
    const char* gguf_refs = std::getenv("LATHE_GGUF_REFS");
    if (!interop_refs() || !gguf_refs) GTEST_SKIP() << "LATHE_INTEROP_REFS / LATHE_GGUF_REFS not set; ctest's eval.smollm2_interop sets them";
    test::TempDir model_dir;
    std::string model = model_dir.str() + "/smollm2";
    CommandRun imported = run(std::string(LATHE_CLI) + " import " + gguf_refs + "/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --output " + model, true);
    ASSERT_EQ(imported.code, 0) << imported.out;
    compare_with_harness(model, " --limit 4");
}

}  // namespace
}  // namespace lathe
