// `lathe eval --run ID [--checkpoint S]`: a run's model from the run store scores exactly as the same
// checkpoint given by hand (its adapter over its base with --adapter; a full finetune's weights as a
// model folder), and differently from the base model.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "core/runs/run_store.h"
#include "core/train/train_config.h"
#include "core/util/error.h"
#include "tests/child_process.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// A 3-step run of `lathe train` on a model with a tokenizer, in its own run store.
struct TinyRun {
    test::TempDir dir;
    std::string base;
    int64_t id = 0;
    std::string checkpoint;  // the last one (step 3)
    std::vector<Json> events;
    TinyRun(const std::string& base_model, const std::string& settings) : base(base_model) {
        std::ofstream(dir.path / "run.yaml") << "base_model: " << base << "\ndatasets:\n  - path: " << test::fixtures()
                                             << "/hf/training/llama/train.jsonl\n    type: pretokenized\noutput_dir: " << dir.str()
                                             << "/out\nmicro_batch_size: 4\nsequence_len: 64\nmax_steps: 3\nsave_steps: 2\nlearning_rate: 0.05\n"
                                             << settings;
        int code = -1;
        events = test::run_to_end({LATHE_CLI, "train", dir.str() + "/run.yaml", "--store", store()}, &code);
        for (const auto& e : events) {
            if (e.contains("run_id")) id = e["run_id"];
            if (e["event"] == "checkpoint") checkpoint = e["path"];
        }
        EXPECT_EQ(code, 0);
    }
    std::string store() const { return dir.str() + "/lathe.db"; }
};

// A multiple-choice and a log-likelihood task over a few local documents.
std::string write_tasks(const test::TempDir& dir) {
    const std::string d = dir.str();
    std::ofstream mc(d + "/mc.jsonl"), ll(d + "/ll.jsonl");
    const char* q[] = {"the cat sat on", "a dog ran to", "birds fly over the", "we looked at the"};
    for (int i = 0; i < 4; ++i) {
        mc << Json{{"question", q[i]}, {"choices", {"the mat", "a tree", "warm sun"}}, {"label", i % 3}}.dump() << "\n";
        ll << Json{{"prefix", q[i]}, {"suffix", " home and away"}}.dump() << "\n";
    }
    std::ofstream(d + "/mc.yaml") << "task: tiny_mc\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: " << d
                                  << "/mc.jsonl\ntest_split: test\noutput_type: multiple_choice\ndoc_to_text: \"{{question}}\"\n"
                                     "doc_to_target: label\ndoc_to_choice: choices\n";
    std::ofstream(d + "/ll.yaml") << "task: tiny_ll\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: " << d
                                  << "/ll.jsonl\ntest_split: test\noutput_type: loglikelihood\ndoc_to_text: prefix\ndoc_to_target: suffix\n";
    return d + "/mc.yaml," + d + "/ll.yaml";
}

std::vector<std::string> split_commas(const std::string& list) {
    std::vector<std::string> out;
    for (size_t start = 0, comma; start <= list.size(); start = comma + 1) {
        comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        out.push_back(list.substr(start, comma - start));
    }
    return out;
}

struct Scores {
    int code = -1;
    Json result;       // the final {"event": "result", ...}
    std::string err;   // stderr
};

Scores run_eval_cli(const std::vector<std::string>& args, const test::TempDir& dir) {
    std::string cmd = LATHE_CLI;
    for (const auto& a : args) cmd += " '" + a + "'";
    const std::string err_file = dir.str() + "/eval_err.txt";
    FILE* pipe = popen((cmd + " 2>" + err_file).c_str(), "r");
    std::string out;
    std::array<char, 4096> buf;
    while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
    int status = pclose(pipe);
    Scores s;
    s.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(err_file);
    s.err.assign(std::istreambuf_iterator<char>(in), {});
    size_t last = out.find_last_of('\n', out.size() >= 2 ? out.size() - 2 : 0);
    std::string line = out.substr(last == std::string::npos ? 0 : last + 1);
    if (s.code == 0) s.result = Json::parse(line);
    return s;
}

// Every document's log-likelihoods, task by task.
Json loglikelihoods(const Json& result) {
    Json all = Json::object();
    for (const auto& [task, docs] : result["samples"].items())
        for (const auto& doc : docs) all[task].push_back(doc["loglikelihoods"]);
    return all;
}

TEST(EvalRun, AdapterRunScoresAsItsCheckpointWithAdapter) {
    test::TempDir model_dir, work;
    const std::string base = test::model_with_tokenizer(model_dir), tasks = write_tasks(work);
    TinyRun run(base, "adapter: lora\nlora_r: 4\nlora_alpha: 16\nlora_target_linear: true\n");
    ASSERT_GT(run.id, 0);
    ASSERT_FALSE(run.checkpoint.empty());
    const std::vector<std::string> common = {"eval", "--tasks", tasks, "--json", "--log-samples"};
    auto with = [&](std::vector<std::string> more) {
        std::vector<std::string> args = common;
        args.insert(args.end(), more.begin(), more.end());
        return run_eval_cli(args, work);
    };
    Scores by_run = with({"--run", std::to_string(run.id), "--store", run.store()});
    ASSERT_EQ(by_run.code, 0) << by_run.err;
    Scores by_hand = with({"--model", base, "--adapter", run.checkpoint});
    ASSERT_EQ(by_hand.code, 0) << by_hand.err;
    EXPECT_EQ(by_run.result["results"], by_hand.result["results"]);
    EXPECT_EQ(loglikelihoods(by_run.result), loglikelihoods(by_hand.result));
    // The base model alone scores otherwise: the adapter was applied.
    Scores base_only = with({"--model", base});
    ASSERT_EQ(base_only.code, 0) << base_only.err;
    EXPECT_NE(loglikelihoods(by_run.result), loglikelihoods(base_only.result));

    // --checkpoint picks a step; --model with --run is the base model.
    Scores step2 = with({"--run", std::to_string(run.id), "--store", run.store(), "--checkpoint", "2", "--model", base});
    ASSERT_EQ(step2.code, 0) << step2.err;
    Scores step2_by_hand = with({"--model", base, "--adapter", (fs::path(run.checkpoint).parent_path() / "checkpoint-2").string()});
    ASSERT_EQ(step2_by_hand.code, 0) << step2_by_hand.err;
    EXPECT_EQ(loglikelihoods(step2.result), loglikelihoods(step2_by_hand.result));
    EXPECT_NE(loglikelihoods(step2.result), loglikelihoods(by_run.result));

    Scores missing = with({"--run", std::to_string(run.id), "--store", run.store(), "--checkpoint", "7"});
    EXPECT_EQ(missing.code, 1);
    EXPECT_NE(missing.err.find("no checkpoint at step 7"), std::string::npos) << missing.err;
    Scores no_run = with({"--run", "99", "--store", run.store()});
    EXPECT_EQ(no_run.code, 1);
    EXPECT_NE(no_run.err.find("no run #99"), std::string::npos) << no_run.err;
    Scores both = with({"--run", std::to_string(run.id), "--adapter", run.checkpoint});
    EXPECT_EQ(both.code, 2) << both.err;  // a usage error
}

// --record-run keeps the scores in the run store beside the run: a checkpoint under its step, the run's
// base model as "base"; an unknown run is refused before anything is scored.
TEST(EvalRun, RecordRunKeepsScoresBesideTheRun) {
    test::TempDir model_dir, work;
    const std::string base = test::model_with_tokenizer(model_dir), tasks = write_tasks(work);
    TinyRun run(base, "adapter: lora\nlora_r: 4\nlora_alpha: 16\nlora_target_linear: true\n");
    ASSERT_GT(run.id, 0);
    const std::string id = std::to_string(run.id);
    Scores checkpoint = run_eval_cli({"eval", "--tasks", tasks, "--json", "--run", id, "--checkpoint", "2", "--store", run.store(), "--record-run", id}, work);
    ASSERT_EQ(checkpoint.code, 0) << checkpoint.err;
    EXPECT_NE(checkpoint.err.find("recorded"), std::string::npos) << checkpoint.err;
    Scores base_scores = run_eval_cli({"eval", "--tasks", tasks, "--json", "--model", base, "--store", run.store(), "--record-run", id}, work);
    ASSERT_EQ(base_scores.code, 0) << base_scores.err;

    auto store = RunStore::open(run.store());
    const auto recorded = store->eval_scores(run.id);
    // What the result printed, metric by metric: tiny_mc has acc and acc_norm (with standard errors),
    // tiny_ll has acc (with a standard error too, as the harness computes it).
    size_t printed = 0;
    for (const auto& [task, metrics] : checkpoint.result["results"].items())
        for (const auto& [key, value] : metrics.items())
            if (key.find(',') != std::string::npos && key.find("_stderr,") == std::string::npos && value.is_number()) ++printed;
    ASSERT_GT(printed, 0u);
    ASSERT_EQ(recorded.size(), 2 * printed);
    for (size_t i = 0; i < recorded.size(); ++i) {
        const EvalScore& s = recorded[i];
        const Json& result = i < printed ? checkpoint.result : base_scores.result;
        EXPECT_EQ(s.model, i < printed ? "checkpoint 2" : "base");
        EXPECT_EQ(s.step, i < printed ? 2 : -1);
        EXPECT_EQ(s.value, result["results"][s.task][s.metric + "," + s.filter].get<double>()) << s.task << " " << s.metric;
        const Json& err = result["results"][s.task][s.metric + "_stderr," + s.filter];
        if (err.is_number()) {
            ASSERT_TRUE(s.stderr_value);
            EXPECT_EQ(*s.stderr_value, err.get<double>());
        } else {
            EXPECT_FALSE(s.stderr_value);
        }
    }

    Scores unknown = run_eval_cli({"eval", "--tasks", tasks, "--json", "--model", base, "--store", run.store(), "--record-run", "99"}, work);
    EXPECT_EQ(unknown.code, 1);
    EXPECT_NE(unknown.err.find("--record-run 99"), std::string::npos) << unknown.err;
    EXPECT_EQ(RunStore::open(run.store())->eval_scores(run.id).size(), 2 * printed);
}

// eval_tasks in the run YAML: the scores before step 1, at the evaluation of step 2 and at the end (step 3)
// are those `lathe eval` gives the base model and the checkpoints of steps 2 and 3 (same limit and batch
// size), as events and as run metrics.
TEST(EvalRun, EvalTasksInTrainingScoreAsLatheEvalOnTheCheckpoints) {
    test::TempDir model_dir, work;
    const std::string base = test::model_with_tokenizer(model_dir), tasks = write_tasks(work);
    std::string task_list;
    for (const auto& file : split_commas(tasks)) task_list += "  - " + file + "\n";
    TinyRun run(base, "adapter: lora\nlora_r: 4\nlora_alpha: 16\nlora_target_linear: true\neval_steps: 2\neval_tasks_limit: 3\n"
                      "eval_tasks_batch_size: 2\neval_tasks:\n" + task_list);
    ASSERT_GT(run.id, 0);
    const std::string id = std::to_string(run.id);

    // Step -> task -> "metric,filter" -> value (and "metric_stderr,filter"), as the events said.
    std::map<int64_t, Json> by_step;
    for (const Json& e : run.events) {
        if (e["event"] != "task_score") continue;
        Json& task = by_step[e["step"].get<int64_t>()][e["task"].get<std::string>()];
        task[e["metric"].get<std::string>() + "," + e["filter"].get<std::string>()] = e["value"];
        if (e.contains("stderr")) task[e["metric"].get<std::string>() + "_stderr," + e["filter"].get<std::string>()] = e["stderr"];
    }
    ASSERT_EQ(by_step.size(), 3u) << "scores before step 1, at the evaluation of step 2 and at the end";
    ASSERT_TRUE(by_step.count(0) && by_step.count(2) && by_step.count(3));
    // The events came before the first step's and after the second step's.
    auto index_of = [&](const std::string& event, int64_t step) {
        for (size_t i = 0; i < run.events.size(); ++i)
            if (run.events[i]["event"] == event && run.events[i]["step"] == step) return static_cast<int64_t>(i);
        return int64_t{-1};
    };
    EXPECT_LT(index_of("task_score", 0), index_of("step", 1));
    EXPECT_GT(index_of("task_score", 2), index_of("step", 2));
    EXPECT_LT(index_of("task_score", 2), index_of("step", 3));

    const std::vector<std::string> common = {"eval", "--tasks", tasks, "--json", "--limit", "3", "--batch-size", "2"};
    auto lathe_eval = [&](std::vector<std::string> more) {
        std::vector<std::string> args = common;
        args.insert(args.end(), more.begin(), more.end());
        Scores s = run_eval_cli(args, work);
        EXPECT_EQ(s.code, 0) << s.err;
        return s.result["results"];
    };
    const std::map<int64_t, Json> expected = {
        {0, lathe_eval({"--model", base})},
        {2, lathe_eval({"--run", id, "--store", run.store(), "--checkpoint", "2"})},
        {3, lathe_eval({"--run", id, "--store", run.store(), "--checkpoint", "3"})},
    };
    EXPECT_NE(expected.at(0), expected.at(3)) << "training moved the scores (else the comparison shows little)";
    auto store = RunStore::open(run.store());
    for (const auto& [step, results] : expected) {
        size_t compared = 0;
        for (const auto& [task, metrics] : results.items())
            for (const auto& [key, value] : metrics.items()) {
                if (key == "alias" || !value.is_number()) continue;
                ASSERT_TRUE(by_step[step].contains(task) && by_step[step][task].contains(key)) << "step " << step << ": no " << task << " " << key;
                EXPECT_EQ(by_step[step][task][key].get<double>(), value.get<double>()) << "step " << step << ": " << task << " " << key;
                ++compared;
            }
        EXPECT_GE(compared, 6u) << "tiny_mc: acc, acc_norm and their standard errors; tiny_ll: perplexity, acc, ...";
        // The run store holds each as eval_tasks/TASK/METRIC,FILTER at the step.
        for (const auto& [task, metrics] : by_step[step].items())
            for (const auto& [key, value] : metrics.items()) {
                const std::string name = "eval_tasks/" + task + "/" + key;
                std::optional<double> stored;
                for (const MetricPoint& m : store->metrics(run.id, name))
                    if (m.step == step) stored = m.value;
                ASSERT_TRUE(stored) << name << " at step " << step;
                EXPECT_EQ(*stored, value.get<double>()) << name;
            }
    }
}

// eval_tasks are checked when the configuration is read: a missing file, a task `lathe eval` cannot
// read, missing task data and a task given twice each name the entry and the file.
TEST(TrainConfig, EvalTasksThatCannotBeScoredNameTheEntryAndFile) {
    test::TempDir work;
    const std::vector<std::string> good = split_commas(write_tasks(work));
    const std::string d = work.str();
    std::ofstream(d + "/bad_key.yaml") << "task: odd\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: " << d
                                       << "/mc.jsonl\ntest_split: test\noutput_type: multiple_choice\ndoc_to_text: q\ndoc_to_target: 0\n"
                                          "doc_to_choice: choices\nprocess_docs: !function utils.process\n";
    std::ofstream(d + "/no_data.yaml") << "task: gone\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: " << d
                                       << "/absent.jsonl\ntest_split: test\noutput_type: loglikelihood\ndoc_to_text: prefix\ndoc_to_target: suffix\n";
    const std::string head = "base_model: m\ndatasets:\n  - d.jsonl\n";
    auto problems = [&](const std::string& yaml) {
        try {
            parse_train_config(head + yaml, "run.yaml");
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    const std::string err = problems("eval_tasks:\n  - " + good[0] + "\n  - " + d + "/missing.yaml\n  - " + d + "/bad_key.yaml\n  - " + d +
                                     "/no_data.yaml\n  - " + good[0] + "\n");
    EXPECT_NE(err.find("run.yaml:6: eval_tasks[1]: " + d + "/missing.yaml does not exist"), std::string::npos) << err;
    EXPECT_NE(err.find("run.yaml:7: eval_tasks[2]: "), std::string::npos) << err;
    EXPECT_NE(err.find(d + "/bad_key.yaml:"), std::string::npos) << err;
    EXPECT_NE(err.find("process_docs"), std::string::npos) << err;
    EXPECT_NE(err.find("run.yaml:8: eval_tasks[3]: " + d + "/no_data.yaml: dataset_kwargs.data_files: split 'test': " + d + "/absent.jsonl does not exist"),
              std::string::npos) << err;
    EXPECT_NE(err.find("run.yaml:9: eval_tasks[4]: " + good[0] + ": task 'tiny_mc' is given twice (also in " + good[0] + ")"), std::string::npos) << err;
    EXPECT_EQ(err.find("eval_tasks[0]"), std::string::npos) << err;
    // The options apply with tasks only; with them, a config round-trips through the YAML the Studio saves.
    EXPECT_NE(problems("eval_tasks_limit: 5\n").find("eval_tasks_limit: applies with eval_tasks"), std::string::npos);
    EXPECT_NE(problems("eval_tasks: " + good[1] + "\neval_tasks_batch_size: 0\n").find("eval_tasks_batch_size: must be >= 1"), std::string::npos);
    TrainConfig c = parse_train_config(head + "eval_tasks: [" + good[0] + ", " + good[1] + "]\neval_tasks_limit: 5\neval_tasks_num_fewshot: 0\n", "run.yaml");
    EXPECT_EQ(c.eval_tasks, good);
    EXPECT_EQ(c.eval_tasks_limit, 5);
    EXPECT_EQ(c.eval_tasks_num_fewshot, 0);
    const TrainConfig back = parse_train_config(train_config_yaml(c), "saved.yaml");
    EXPECT_EQ(back.eval_tasks, good);
    EXPECT_EQ(back.eval_tasks_limit, 5);
    EXPECT_EQ(back.eval_tasks_num_fewshot, 0);
    EXPECT_EQ(back.eval_tasks_batch_size, 16);
}

TEST(EvalRun, FullFinetuneRunScoresItsWeights) {
    test::TempDir model_dir, work;
    const std::string base = test::model_with_tokenizer(model_dir), tasks = write_tasks(work);
    TinyRun run(base, "unfrozen_parameters: ['model\\.layers\\.1\\..*']\n");
    ASSERT_GT(run.id, 0);
    // By hand: the checkpoint's weights with the base model's tokenizer files beside them.
    const fs::path by_hand_dir = work.path / "by_hand";
    fs::create_directories(by_hand_dir);
    for (const auto& e : fs::directory_iterator(run.checkpoint))
        if (e.is_regular_file()) fs::copy_file(e.path(), by_hand_dir / e.path().filename());
    for (const auto& e : fs::directory_iterator(base))
        if (e.is_regular_file() && !fs::exists(by_hand_dir / e.path().filename())) fs::copy_file(e.path(), by_hand_dir / e.path().filename());
    Scores by_run = run_eval_cli({"eval", "--tasks", tasks, "--json", "--log-samples", "--run", std::to_string(run.id), "--store", run.store()}, work);
    ASSERT_EQ(by_run.code, 0) << by_run.err;
    Scores by_hand = run_eval_cli({"eval", "--tasks", tasks, "--json", "--log-samples", "--model", by_hand_dir.string()}, work);
    ASSERT_EQ(by_hand.code, 0) << by_hand.err;
    Scores base_only = run_eval_cli({"eval", "--tasks", tasks, "--json", "--log-samples", "--model", base}, work);
    ASSERT_EQ(base_only.code, 0) << base_only.err;
    EXPECT_EQ(by_run.result["results"], by_hand.result["results"]);
    EXPECT_EQ(loglikelihoods(by_run.result), loglikelihoods(by_hand.result));
    EXPECT_NE(loglikelihoods(by_run.result), loglikelihoods(base_only.result));
}

}  // namespace
}  // namespace lathe
