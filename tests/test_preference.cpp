// Preference tuning (rl: dpo, ipo, orpo, simpo): TRL's row forms and tokenization, the config keys, and
// `lathe train` against TRL 1.16 itself (PreferenceInterop: tests/interop/make_preference_references.py ran
// DPOTrainer, ORPOTrainer and CPOTrainer on the same model, data and adapter initialisation): every step's
// loss and TRL's metrics within 1e-4.
#include <gtest/gtest.h>

#include <signal.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/data/inspect.h"
#include "core/data/preference.h"
#include "core/runs/run_store.h"
#include "core/train/train_config.h"
#include "core/util/error.h"
#include "core/util/json_file.h"
#include "tests/child_process.h"
#include "tests/fixtures.h"

namespace lathe {
namespace {

namespace fs = std::filesystem;
using test::write_file;
using nlohmann::json;
using ojson = nlohmann::ordered_json;

data::PreferenceRow row_of(const std::string& line) {
    auto r = data::to_preference_row({"pairs.jsonl", 3, ojson::parse(line)});
    if (auto* p = std::get_if<data::Problem>(&r)) throw Error(p->to_string());
    return std::get<data::PreferenceRow>(r);
}

std::string problem_of(const std::string& line) {
    auto r = data::to_preference_row({"pairs.jsonl", 3, ojson::parse(line)});
    return std::holds_alternative<data::Problem>(r) ? std::get<data::Problem>(r).to_string() : "";
}

TEST(PreferenceRows, ImplicitPromptIsTheSharedPrefixAsTrlExtractsIt) {
    auto conv = row_of(R"({"chosen": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}],
                          "rejected": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Go away."}]})");
    EXPECT_TRUE(conv.conversational);
    EXPECT_EQ(conv.prompt, ojson::parse(R"([{"role": "user", "content": "Hi"}])"));
    EXPECT_EQ(conv.chosen, ojson::parse(R"([{"role": "assistant", "content": "Hello."}])"));
    EXPECT_EQ(conv.rejected, ojson::parse(R"([{"role": "assistant", "content": "Go away."}])"));
    // Text: the prompt stops before the space that precedes the difference, which goes to both completions.
    auto text = row_of(R"({"chosen": "The sky is blue.", "rejected": "The sky is green."})");
    EXPECT_FALSE(text.conversational);
    EXPECT_EQ(text.prompt, "The sky is");
    EXPECT_EQ(text.chosen, " blue.");
    EXPECT_EQ(text.rejected, " green.");
    // Code points, not bytes: "é" and "è" share their first byte.
    auto utf8 = row_of(R"({"chosen": "café", "rejected": "cafè"})");
    EXPECT_EQ(utf8.prompt, "caf");
    // An explicit prompt of the chosen side's form is kept.
    auto explicit_prompt = row_of(R"({"prompt": "Q:", "chosen": " yes", "rejected": " no"})");
    EXPECT_EQ(explicit_prompt.prompt, "Q:");
    EXPECT_EQ(explicit_prompt.chosen, " yes");
}

TEST(PreferenceRows, BadRowsNameTheField) {
    EXPECT_NE(problem_of(R"({"prompt": "Q", "chosen": "a"})").find("pairs.jsonl:3"), std::string::npos);
    EXPECT_NE(problem_of(R"({"prompt": "Q", "chosen": 3, "rejected": "b"})").find("chosen"), std::string::npos);
    EXPECT_NE(problem_of(R"({"prompt": "Q", "chosen": [{"role": "assistant"}], "rejected": [{"role": "assistant", "content": "x"}]})")
                  .find("chosen[0].content"),
              std::string::npos);
    EXPECT_NE(problem_of(R"({"prompt": "Q", "chosen": "a", "rejected": [{"role": "assistant", "content": "x"}]})").find("both"),
              std::string::npos);
}

// Axolotl's DPO types become TRL text rows as Axolotl's transforms make them.
TEST(PreferenceRows, AxolotlTypesBecomeTrlTextRows) {
    test::TempDir dir;
    const TextTokenizer tok = TextTokenizer::load(test::model_with_tokenizer(dir));
    auto convert = [&](const data::PreferenceFormat& f, const std::string& line) { return data::axolotl_preference_row({"p.jsonl", 4, ojson::parse(line)}, f, tok); };
    auto chat = std::get<data::PreferenceRow>(convert({.type = "chat_template.default"},
                                                       R"({"messages": [{"role": "user", "content": "Hi"}], "chosen": {"role": "assistant", "content": "Hello."},
                                                           "rejected": "Bye."})"));
    EXPECT_FALSE(chat.conversational);
    EXPECT_EQ(chat.prompt, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(chat.chosen, "Hello.<|im_end|>");  // cut where the content starts, the template's trailing "\n" stripped
    EXPECT_EQ(chat.rejected, "Bye.<|im_end|>");
    data::PreferenceFormat mapped{.type = "chat_template.default", .field_messages = "conversation", .field_chosen = "good", .field_rejected = "bad",
                                  .role_key = "from", .content_key = "value"};
    auto m = std::get<data::PreferenceRow>(convert(mapped, R"({"conversation": "Hi", "good": [{"from": "user", "value": "Hi"}, {"from": "assistant", "value": "Yes."}],
                                                                "bad": "No."})"));
    EXPECT_EQ(m.prompt, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(m.chosen, "Yes.<|im_end|>");
    auto bad_role = convert(mapped, R"({"conversation": [{"from": "bot", "value": "x"}], "good": "a", "bad": "b"})");
    ASSERT_TRUE(std::holds_alternative<data::Problem>(bad_role));
    EXPECT_NE(std::get<data::Problem>(bad_role).to_string().find("conversation[0].from: unknown role 'bot'"), std::string::npos)
        << std::get<data::Problem>(bad_role).to_string();
    auto intel = std::get<data::PreferenceRow>(convert({.type = "chatml.intel"}, R"({"system": "Be brief.", "question": "Hi", "chosen": "Hello.", "rejected": "Bye."})"));
    EXPECT_EQ(intel.prompt, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(intel.chosen, "Hello.<|im_end|>");
    auto no_question = convert({.type = "chatml.intel"}, R"({"chosen": "a", "rejected": "b"})");
    ASSERT_TRUE(std::holds_alternative<data::Problem>(no_question));
    EXPECT_EQ(std::get<data::Problem>(no_question).to_string(), "p.jsonl:4: question: missing (chatml.intel rows need it)");
}

TEST(PreferenceTokenize, DpoAndOrpoPipelinesSplitPromptAndCompletionAsTrl) {
    test::TempDir dir;
    const TextTokenizer tok = TextTokenizer::load(test::model_with_tokenizer(dir));
    auto row = row_of(R"({"prompt": [{"role": "user", "content": "Hi"}], "chosen": [{"role": "assistant", "content": "Hello."}],
                          "rejected": [{"role": "assistant", "content": "No."}]})");
    auto dpo = std::get<data::PreferencePair>(data::tokenize_preference_row(row, tok, {}));
    const auto prompt = tok.encode("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", false).ids;
    const auto whole = tok.encode("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n", false).ids;
    EXPECT_EQ(dpo.chosen.ids, whole);  // no EOS added to conversational rows
    EXPECT_EQ(dpo.chosen.prompt_tokens, static_cast<int64_t>(prompt.size()));
    auto orpo = std::get<data::PreferencePair>(data::tokenize_preference_row(row, tok, {.pipeline = data::PreferenceTokenization::orpo_cpo}));
    auto with_eos = whole;
    with_eos.push_back(*tok.eos_id());  // the ORPO/CPO pipeline appends EOS after the template's "\n"
    EXPECT_EQ(orpo.chosen.ids, with_eos);
    // max_length: the DPO pipeline keeps the start; a prompt that fills it drops the row.
    auto cut = std::get<data::PreferencePair>(data::tokenize_preference_row(row, tok, {.max_length = static_cast<int64_t>(prompt.size()) + 2}));
    EXPECT_EQ(cut.chosen.ids.size(), prompt.size() + 2);
    auto dropped = data::tokenize_preference_row(row, tok, {.max_length = static_cast<int64_t>(prompt.size())});
    ASSERT_TRUE(std::holds_alternative<data::Problem>(dropped));
    EXPECT_NE(std::get<data::Problem>(dropped).to_string().find("max_length"), std::string::npos);
    // max_prompt_length keeps the prompt's end.
    auto short_prompt = std::get<data::PreferencePair>(data::tokenize_preference_row(row, tok, {.max_prompt_length = 3}));
    EXPECT_EQ(short_prompt.chosen.prompt_tokens, 3);
    EXPECT_EQ(short_prompt.chosen.ids.size(), whole.size() - prompt.size() + 3);
    // Text rows get the EOS text appended (once).
    auto text = row_of(R"({"prompt": "Q:", "chosen": " yes<|im_end|>", "rejected": " no"})");
    auto t = std::get<data::PreferencePair>(data::tokenize_preference_row(text, tok, {}));
    EXPECT_EQ(t.chosen.ids, tok.encode("Q: yes<|im_end|>", true).ids);
    EXPECT_EQ(t.rejected.ids, tok.encode("Q: no<|im_end|>", true).ids);
}

std::string config_error(const std::string& yaml) {
    test::TempDir dir;
    try {
        read_train_config(write_file(dir.path / "run.yaml", "base_model: /m\ndatasets: [a.jsonl]\n" + yaml));
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(PreferenceConfig, KeysAndTheirChecks) {
    test::TempDir dir;
    TrainConfig c = read_train_config(write_file(dir.path / "run.yaml",
                                                 "base_model: /m\ndatasets: [a.jsonl]\nrl: simpo\ndpo_beta: 2.0\nsimpo_gamma: 0.3\ncpo_alpha: 0\n"
                                                 "max_length: 512\nmax_prompt_length: 128\n"));
    EXPECT_EQ(c.rl, "simpo");
    EXPECT_DOUBLE_EQ(c.dpo_beta, 2.0);
    EXPECT_DOUBLE_EQ(c.simpo_gamma, 0.3);
    EXPECT_DOUBLE_EQ(c.cpo_alpha, 0.0);
    EXPECT_EQ(c.max_length, 512);
    EXPECT_EQ(train_config_yaml(read_train_config(write_file(dir.path / "again.yaml", train_config_yaml(c)))), train_config_yaml(c));
    EXPECT_NE(config_error("rl: kto\n").find("rl: 'kto' is not supported"), std::string::npos);
    EXPECT_NE(config_error("rl: dpo\ndpo_label_smoothing: 0.1\n").find("dpo_loss_type: robust"), std::string::npos);
    EXPECT_NE(config_error("rl: dpo\nsample_packing: true\n").find("sample_packing"), std::string::npos);
    EXPECT_EQ(config_error("rl: orpo\nval_set_size: 0.1\n"), "");  // preference runs evaluate their held-out pairs
    EXPECT_NE(config_error("rl: dpo\ntest_datasets:\n  - path: v.jsonl\n    type: alpaca\n").find("test_datasets[0].type"), std::string::npos);
    EXPECT_NE(config_error("dpo_beta: 0.2\n").find("applies with rl"), std::string::npos);
    // Axolotl's preference dataset types.
    test::TempDir d2;
    auto error_of = [&](const std::string& yaml) -> std::string {
        try {
            read_train_config(write_file(d2.path / "e.yaml", yaml));
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    };
    const std::string axolotl = "base_model: /m\ndatasets:\n  - path: p.jsonl\n    type: chat_template.default\n    field_chosen: good\n";
    EXPECT_NE(error_of(axolotl).find("applies with rl"), std::string::npos);
    TrainConfig a = read_train_config(write_file(d2.path / "a.yaml", axolotl + "rl: dpo\n"));
    EXPECT_EQ(a.datasets[0].field_chosen, "good");
    EXPECT_EQ(train_config_yaml(read_train_config(write_file(d2.path / "b.yaml", train_config_yaml(a)))), train_config_yaml(a));
    EXPECT_NE(error_of("base_model: /m\nrl: dpo\ndatasets:\n  - path: p.jsonl\n    type: alpaca\n").find("leave type out"), std::string::npos);
}

// `n` conversational pairs "What is i + 1?": chosen the answer, rejected "No idea, i".
void write_arithmetic_pairs(const fs::path& path, int n) {
    std::ofstream pairs(path);
    for (int i = 0; i < n; ++i)
        pairs << json{{"prompt", {{{"role", "user"}, {"content", "What is " + std::to_string(i) + " + 1?"}}}},
                      {"chosen", {{{"role", "assistant"}, {"content", std::to_string(i + 1)}}}},
                      {"rejected", {{{"role", "assistant"}, {"content", "No idea, " + std::to_string(i)}}}}}
                     .dump()
              << "\n";
}

// LoRA-DPO with a fresh adapter (B = 0): at the first step the policy is the reference, so the loss is
// ln 2 and every reward 0.
TEST(PreferenceTrain, FreshLoraDpoStartsAtLn2WithZeroRewards) {
    test::TempDir dir;
    const std::string model = test::model_with_tokenizer(dir);
    write_arithmetic_pairs(dir.path / "pairs.jsonl", 4);
    const std::string cfg = write_file(dir.path / "dpo.yaml", "base_model: " + model + "\ndatasets:\n  - path: " + (dir.path / "pairs.jsonl").string() +
                                                                  "\nrl: dpo\nadapter: lora\nlora_r: 4\nlora_target_linear: true\n"
                                                                  "micro_batch_size: 2\nmax_steps: 2\nlearning_rate: 0.01\ndevice: cpu\n"
                                                                  "output_dir: " + dir.str() + "/out\n");
    int code = -1;
    auto events = test::run_to_end({LATHE_CLI, "train", cfg, "--store", dir.str() + "/lathe.db"}, &code);
    ASSERT_EQ(code, 0) << (events.empty() ? "" : events.back().dump());
    std::vector<json> steps;
    for (const auto& e : events)
        if (e["event"] == "step") steps.push_back(e);
    ASSERT_EQ(steps.size(), 2u);
    EXPECT_NEAR(steps[0]["loss"].get<double>(), std::log(2.0), 1e-6);
    for (const char* k : {"rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"}) EXPECT_EQ(steps[0][k].get<double>(), 0.0) << k;
    EXPECT_LT(steps[0]["logps/chosen"].get<double>(), 0.0);
    EXPECT_NE(steps[1]["rewards/margins"].get<double>(), 0.0);  // the adapter moved the policy away from the reference
}

TEST(PreferenceInspect, CountsPairsAndFlagsIdenticalOnesWithTheirLine) {
    test::TempDir dir;
    const std::string path = write_file(dir.path / "pairs.jsonl",
                                        R"({"prompt": "Q: sky?", "chosen": " blue", "rejected": " green"})"
                                        "\n"
                                        R"({"prompt": "Q: grass?", "chosen": " green", "rejected": " green"})"
                                        "\n"
                                        R"({"chosen": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}],)"
                                        R"( "rejected": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Bye."}]})"
                                        "\n");
    data::InspectReport r = data::inspect_dataset({path}, {}, nullptr);
    EXPECT_TRUE(r.preference);
    EXPECT_EQ(r.near_duplicates, 0);
    EXPECT_EQ(r.rows, 3);
    EXPECT_EQ(r.usable_rows, 2);
    EXPECT_EQ(r.identical_pairs, 1);
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_EQ(r.problems[0].line, 2);
    EXPECT_NE(r.problems[0].message.find("identical"), std::string::npos);
    auto j = data::inspect_report_json(r);
    EXPECT_EQ(j["type"], "preference");
    EXPECT_EQ(j["pairs"]["usable"], 2);
    std::ostringstream printed;
    data::print_inspect_report(r, printed);
    EXPECT_NE(printed.str().find("preference pairs: 2 usable, 1 with identical chosen and rejected"), std::string::npos) << printed.str();
    // Near duplicates compare the pairs' texts.
    const std::string near_path = write_file(dir.path / "near.jsonl",
                                             R"({"prompt": "Q: what colour is the sky on a clear day at noon?", "chosen": " it is blue on a clear day", "rejected": " green"})"
                                             "\n"
                                             R"({"prompt": "Q: what colour is the sky on a clear day at noon?", "chosen": " it is blue on a clear day!", "rejected": " green"})"
                                             "\n");
    data::InspectReport near = data::inspect_dataset({near_path}, {}, nullptr);
    EXPECT_EQ(near.near_duplicates, 1);
    // With the model's tokenizer: token lengths of prompt, chosen and rejected.
    const TextTokenizer tok = TextTokenizer::load(test::model_with_tokenizer(dir));
    data::InspectReport t = data::inspect_dataset({path}, {}, &tok);
    for (const char* field : {"prompt", "chosen", "rejected"}) EXPECT_EQ(t.field_lengths[field].rows, 2) << field;
    EXPECT_GT(t.trained_tokens, 0);
    EXPECT_LT(t.trained_tokens, t.tokens);
}

// Full-finetuning DPO killed with -9 and resumed: the reference log-probabilities come from the base model
// again (not the checkpoint's weights), so the losses and rewards after the resume are the uninterrupted run's,
// bit for bit.
TEST(PreferenceTrain, FullFinetuneDpoResumesAfterKillNineBitForBit) {
    test::TempDir dir;
    const std::string model = test::model_with_tokenizer(dir);
    std::ofstream pairs(dir.path / "pairs.jsonl");
    for (int i = 0; i < 8; ++i)
        pairs << json{{"prompt", "Question " + std::to_string(i) + ":"}, {"chosen", " yes " + std::to_string(i)}, {"rejected", " no"}}.dump() << "\n";
    pairs.close();
    auto config = [&](const std::string& name) {
        return write_file(dir.path / (name + ".yaml"), "base_model: " + model + "\ndatasets:\n  - path: " + (dir.path / "pairs.jsonl").string() +
                                                           "\nrl: dpo\nmicro_batch_size: 2\nnum_epochs: 2\nsave_steps: 3\nlearning_rate: 0.001\n"
                                                           "device: cpu\nseed: 5\noutput_dir: " + dir.str() + "/" + name + "\n");
    };
    const std::string store = dir.str() + "/lathe.db";
    auto steps_of = [](const std::vector<json>& events) {
        std::vector<json> out;
        for (const auto& e : events)
            if (e["event"] == "step") out.push_back(e);
        return out;
    };
    auto uninterrupted = steps_of(test::run_to_end({LATHE_CLI, "train", config("full"), "--store", store}));
    ASSERT_EQ(uninterrupted.size(), 8u);

    test::ChildProcess child({LATHE_CLI, "train", config("killed"), "--store", store});
    json e;
    int64_t run_id = 0;
    while (child.next(e)) {
        run_id = e["run_id"];
        if (e["event"] == "step" && e["step"] == 5) {
            kill(child.pid, SIGKILL);  // after checkpoint-3
            break;
        }
    }
    child.wait();
    int code = -1;
    auto resumed = test::run_to_end({LATHE_CLI, "train", "--resume", std::to_string(run_id), "--store", store}, &code);
    ASSERT_EQ(code, 0);
    auto after = steps_of(resumed);
    ASSERT_EQ(after.size(), 5u);
    for (size_t i = 0; i < after.size(); ++i)
        for (const char* key : {"loss", "rewards/chosen", "rewards/rejected", "logps/chosen", "grad_norm"})
            EXPECT_EQ(after[i][key].get<double>(), uninterrupted[i + 3][key].get<double>()) << "step " << i + 4 << " " << key;
}

// TRL turns every dropout off in preference training, the adapter's too: lora_dropout changes nothing.
TEST(PreferenceTrain, AdapterDropoutIsOffAsInTrl) {
    test::TempDir dir;
    const std::string model = test::model_with_tokenizer(dir);
    std::ofstream(dir.path / "pairs.jsonl") << R"({"prompt": "Q: one?", "chosen": " yes", "rejected": " no"})" << "\n"
                                             << R"({"prompt": "Q: two?", "chosen": " no", "rejected": " yes, two"})" << "\n";
    auto losses = [&](const std::string& name, const std::string& dropout) {
        const std::string cfg = write_file(dir.path / (name + ".yaml"), "base_model: " + model + "\ndatasets:\n  - path: " + dir.str() +
                                                                            "/pairs.jsonl\nrl: orpo\nadapter: lora\nlora_r: 4\nlora_target_linear: true\n"
                                                                            "lora_dropout: " + dropout + "\nmicro_batch_size: 1\nmax_steps: 3\n"
                                                                            "learning_rate: 0.01\ndevice: cpu\noutput_dir: " + dir.str() + "/" + name + "\n");
        std::vector<double> out;
        for (const auto& e : test::run_to_end({LATHE_CLI, "train", cfg, "--store", dir.str() + "/lathe.db"}))
            if (e["event"] == "step") out.push_back(e["loss"].get<double>());
        return out;
    };
    auto without = losses("without", "0.0");
    ASSERT_EQ(without.size(), 3u);
    EXPECT_EQ(losses("with", "0.3"), without);
}

// `lathe train --dry-run`: a preference run's estimate counts both sequences of each pair, up to max_length.
TEST(PreferenceTrain, DryRunEstimatesTheDoubledBatch) {
    test::TempDir dir;
    auto dry_run = [&](const std::string& name, const std::string& extra) {
        const std::string cfg = write_file(dir.path / (name + ".yaml"), "base_model: " + test::hf_model("llama") + "\ndatasets: [" + dir.str() +
                                                                            "/pairs.jsonl]\nadapter: lora\nlora_target_linear: true\n" + extra);
        int code = -1;
        const std::string text = test::run_for_text({LATHE_CLI, "train", "--dry-run", cfg, "--store", dir.str() + "/lathe.db"}, &code);
        EXPECT_EQ(code, 0) << text;
        return text;
    };
    auto line_of = [](const std::string& text, const std::string& start) {
        size_t at = text.find(start);
        return at == std::string::npos ? std::string() : text.substr(at, text.find('\n', at) - at);
    };
    const std::string sft = dry_run("sft", "micro_batch_size: 4\nsequence_len: 512\n");
    const std::string dpo = dry_run("dpo", "rl: dpo\nmicro_batch_size: 2\nsequence_len: 2048\nmax_length: 512\n");
    EXPECT_NE(dpo.find("preference      rl: dpo (chosen and rejected in one batch)"), std::string::npos) << dpo;
    EXPECT_NE(dpo.find("2 pairs x 1 accumulation, max_length 512"), std::string::npos) << dpo;
    EXPECT_FALSE(line_of(sft, "  activations").empty()) << sft;
    EXPECT_EQ(line_of(dpo, "  activations"), line_of(sft, "  activations"));
}

// val_set_size holds pairs out and evaluates them as TRL's evaluate() reports: eval_loss and the eval_ metrics
// in the eval events and the run store. At step 0 of a fresh LoRA-DPO adapter the policy is the reference, so
// an evaluation there would be ln 2; after training it is not.
TEST(PreferenceTrain, ValSetSizeEvaluatesTheHeldOutPairs) {
    test::TempDir dir;
    const std::string model = test::model_with_tokenizer(dir);
    std::ofstream pairs(dir.path / "pairs.jsonl");
    for (int i = 0; i < 8; ++i)
        pairs << json{{"prompt", "Question " + std::to_string(i) + ":"}, {"chosen", " yes " + std::to_string(i)}, {"rejected", " no"}}.dump() << "\n";
    pairs.close();
    const std::string store = dir.str() + "/lathe.db";
    const std::string cfg = write_file(dir.path / "dpo.yaml", "base_model: " + model + "\ndatasets:\n  - path: " + (dir.path / "pairs.jsonl").string() +
                                                                  "\nrl: dpo\nadapter: lora\nlora_r: 4\nlora_target_linear: true\nval_set_size: 0.25\n"
                                                                  "eval_steps: 1\nmicro_batch_size: 2\nmax_steps: 3\nlearning_rate: 0.05\ndevice: cpu\n"
                                                                  "output_dir: " + dir.str() + "/out\n");
    int code = -1;
    auto events = test::run_to_end({LATHE_CLI, "train", cfg, "--store", store}, &code);
    ASSERT_EQ(code, 0) << (events.empty() ? "" : events.back().dump());
    EXPECT_EQ(events.front()["train_rows"], 6);
    EXPECT_EQ(events.front()["validation_rows"], 2);
    std::vector<json> evals;
    for (const auto& e : events)
        if (e["event"] == "eval") evals.push_back(e);
    ASSERT_EQ(evals.size(), 3u);  // after steps 1 and 2, and at the end
    for (const auto& e : evals) {
        for (const char* k : {"eval_rewards/chosen", "eval_rewards/rejected", "eval_rewards/margins", "eval_rewards/accuracies", "eval_logps/chosen",
                              "eval_logps/rejected"})
            EXPECT_TRUE(e.contains(k)) << k << " " << e.dump();
        EXPECT_NEAR(e["eval_rewards/margins"].get<double>(), e["eval_rewards/chosen"].get<double>() - e["eval_rewards/rejected"].get<double>(), 1e-5);  // float32 rewards
        EXPECT_NE(e["eval_loss"].get<double>(), std::log(2.0));  // the adapter has moved the policy
    }
    auto run = RunStore::open(store);
    const int64_t id = events.front()["run_id"];
    EXPECT_EQ(run->metrics(id, "eval_loss").size(), 3u);
    EXPECT_EQ(run->metrics(id, "eval_rewards/accuracies").size(), 3u);
    EXPECT_TRUE(run->metrics(id, "eval_perplexity").empty());  // a preference loss has no perplexity
}

// Early stopping watches the preference eval_loss: validated on the training pairs with chosen and rejected
// swapped, every step that learns the training preference makes the validation loss worse, so patience 1
// stops the run at its second evaluation.
TEST(PreferenceTrain, EarlyStoppingWatchesThePreferenceEvalLoss) {
    test::TempDir dir;
    const std::string model = test::model_with_tokenizer(dir);
    std::ofstream train(dir.path / "train.jsonl"), swapped(dir.path / "swapped.jsonl");
    for (int i = 0; i < 4; ++i) {
        const std::string prompt = "Question " + std::to_string(i) + ":", good = " yes " + std::to_string(i), bad = " no";
        train << json{{"prompt", prompt}, {"chosen", good}, {"rejected", bad}}.dump() << "\n";
        swapped << json{{"prompt", prompt}, {"chosen", bad}, {"rejected", good}}.dump() << "\n";
    }
    train.close();
    swapped.close();
    const std::string cfg = write_file(dir.path / "dpo.yaml", "base_model: " + model + "\ndatasets:\n  - path: " + dir.str() + "/train.jsonl\n"
                                                              "test_datasets:\n  - path: " + dir.str() + "/swapped.jsonl\nrl: dpo\nadapter: lora\n"
                                                              "lora_r: 4\nlora_target_linear: true\nmicro_batch_size: 4\nmax_steps: 10\neval_steps: 1\n"
                                                              "early_stopping_patience: 1\nlearning_rate: 0.02\ndevice: cpu\noutput_dir: " + dir.str() + "/out\n");
    int code = -1;
    auto events = test::run_to_end({LATHE_CLI, "train", cfg, "--store", dir.str() + "/lathe.db"}, &code);
    ASSERT_EQ(code, 0) << (events.empty() ? "" : events.back().dump());
    std::vector<double> eval_losses;
    bool warned = false;
    for (const auto& e : events) {
        if (e["event"] == "eval") eval_losses.push_back(e["eval_loss"].get<double>());
        if (e["event"] == "warning") warned = warned || e["message"].get<std::string>().find("early stopping") != std::string::npos;
    }
    ASSERT_EQ(eval_losses.size(), 2u);
    EXPECT_GT(eval_losses[1], eval_losses[0]);
    EXPECT_TRUE(warned);
    EXPECT_EQ(events.back()["step"], 2);
}

// Pairs and precomputed reference log-probabilities come from the dataset cache on the second run (same
// data, tokenizer and settings), which then trains exactly as the first; another max_length or tokenizer
// misses it.
TEST(PreferenceTrain, PairsAndReferenceLogProbsAreCached) {
    test::TempDir dir;
    const std::string model = test::model_with_tokenizer(dir);
    write_arithmetic_pairs(dir.path / "pairs.jsonl", 6);
    const std::string store = dir.str() + "/lathe.db";
    auto run = [&](const std::string& name, const std::string& base_model, const std::string& extra) {
        const std::string cfg = write_file(dir.path / (name + ".yaml"), "base_model: " + base_model + "\ndatasets:\n  - path: " + dir.str() +
                                                                            "/pairs.jsonl\nrl: dpo\nmicro_batch_size: 2\nmax_steps: 3\nlearning_rate: 0.001\n"
                                                                            "device: cpu\ndataset_prepared_path: " + dir.str() + "/prepared\n" + extra +
                                                                            "output_dir: " + dir.str() + "/" + name + "\n");
        int code = -1;
        auto events = test::run_to_end({LATHE_CLI, "train", cfg, "--store", store}, &code);
        EXPECT_EQ(code, 0) << (events.empty() ? "" : events.back().dump());
        std::vector<double> losses;
        for (const auto& e : events)
            if (e["event"] == "step") losses.push_back(e["loss"].get<double>());
        json datasets;
        for (const auto& line : RunStore::open(store)->events(events.front()["run_id"])) {
            json e = json::parse(line);
            if (e["event"] == "datasets") datasets = e["datasets"];
        }
        return std::pair{losses, datasets};
    };
    auto [losses, first] = run("first", model, "");
    ASSERT_EQ(first.size(), 2u);  // the dataset, then the reference log-probabilities (full finetuning precomputes them)
    EXPECT_EQ(first[0]["cache_reused"], false);
    EXPECT_EQ(first[0]["rows"], 6);
    EXPECT_TRUE(fs::exists(first[0]["cache"].get<std::string>()));
    EXPECT_EQ(first[1]["cache_reused"], false);
    EXPECT_TRUE(fs::exists(first[1]["reference_log_probs"].get<std::string>()));

    auto [again_losses, again] = run("again", model, "");
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(again[0]["cache_reused"], true);
    EXPECT_EQ(again[0]["cache"], first[0]["cache"]);
    EXPECT_EQ(again[1]["cache_reused"], true);
    EXPECT_EQ(again[1]["reference_log_probs"], first[1]["reference_log_probs"]);
    ASSERT_EQ(losses.size(), 3u);
    EXPECT_EQ(again_losses, losses);

    auto [shorter_losses, shorter] = run("shorter", model, "max_length: 1000\n");
    EXPECT_EQ(shorter[0]["cache_reused"], false);
    EXPECT_NE(shorter[0]["cache"], first[0]["cache"]);
    EXPECT_EQ(shorter[1]["cache_reused"], false);

    // The same model with another tokenizer (one more added token in tokenizer_config.json).
    test::TempDir other;
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"})
        fs::copy_file(fs::path(model) / f, other.path / f);
    json tok_config = json::parse(std::ifstream(other.path / "tokenizer_config.json"));
    tok_config["model_max_length"] = 4096;
    std::ofstream(other.path / "tokenizer_config.json") << tok_config.dump();
    auto [retok_losses, retok] = run("retok", other.str(), "");
    EXPECT_EQ(retok[0]["cache_reused"], false);
    EXPECT_NE(retok[0]["cache"], first[0]["cache"]);
    EXPECT_EQ(retok[1]["cache_reused"], false);  // the pairs' keys are part of the reference's
    EXPECT_EQ(retok_losses, losses);  // the same tokens (the change does not alter them), computed again
}

// --- against TRL itself -------------------------------------------------------------------------------

std::string preference_refs() {
    const char* dir = std::getenv("LATHE_INTEROP_REFS");
    return dir ? std::string(dir) + "/preference" : "";
}

class PreferenceInterop : public ::testing::TestWithParam<std::string> {};

TEST_P(PreferenceInterop, EveryStepsLossAndMetricsMatchTrl) {
    const std::string refs = preference_refs();
    ASSERT_FALSE(refs.empty()) << "LATHE_INTEROP_REFS is not set (ctest sets it)";
    const json ref = read_json_file(refs + "/" + GetParam() + "/reference.json");
    test::TempDir dir;
    std::string yaml = "base_model: " + refs + "/model\ndatasets:\n  - path: " + refs + "/" + ref["dataset"].get<std::string>() + "\n";
    if (!ref["adapter_init"].is_null()) yaml += "adapter: lora\nlora_model_dir: " + refs + "/" + ref["adapter_init"].get<std::string>() + "\n";
    if (ref.contains("test_dataset")) yaml += "test_datasets:\n  - path: " + refs + "/" + ref["test_dataset"].get<std::string>() + "\n";
    for (const auto& [key, value] : ref["config"].items())
        yaml += key + ": " + (value.is_string() ? value.get<std::string>() : value.dump()) + "\n";
    yaml += "device: cpu\nbf16: false\noutput_dir: " + dir.str() + "/out\n";
    const std::string cfg = write_file(dir.path / "run.yaml", yaml);
    int code = -1;
    auto events = test::run_to_end({LATHE_CLI, "train", cfg, "--store", dir.str() + "/lathe.db"}, &code);
    ASSERT_EQ(code, 0) << (events.empty() ? "" : events.back().dump());
    std::vector<json> steps;
    for (const auto& e : events)
        if (e["event"] == "step") steps.push_back(e);
    const json& expected = ref["steps"];
    ASSERT_EQ(steps.size(), expected.size());
    for (size_t i = 0; i < steps.size(); ++i)
        for (const auto& [key, value] : expected[i].items()) {
            ASSERT_TRUE(steps[i].contains(key)) << key;
            EXPECT_NEAR(steps[i][key].get<double>(), value.get<double>(), 1e-4) << GetParam() << " step " << i + 1 << " " << key;
        }
    // Cases with a validation set: each evaluation equals what trainer.evaluate() logged after the same step
    // (eval_loss and TRL's eval_rewards/..., eval_logps/... under TRL's names).
    std::vector<json> evals;
    for (const auto& e : events)
        if (e["event"] == "eval") evals.push_back(e);
    if (!ref.contains("evals")) {
        EXPECT_TRUE(evals.empty());
        return;
    }
    ASSERT_EQ(evals.size(), ref["evals"].size());
    for (size_t i = 0; i < evals.size(); ++i) {
        EXPECT_EQ(evals[i]["step"], ref["evals"][i]["step"]);
        for (const auto& [key, value] : ref["evals"][i].items()) {
            if (key == "step") continue;
            ASSERT_TRUE(evals[i].contains(key)) << key;
            EXPECT_NEAR(evals[i][key].get<double>(), value.get<double>(), 1e-4) << GetParam() << " eval at step " << evals[i]["step"] << " " << key;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Trl, PreferenceInterop,
                         ::testing::Values("dpo_lora", "ipo_lora", "robust_lora_truncated", "dpo_full", "dpo_lora_accumulated", "orpo_lora",
                                           "simpo_lora"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace lathe
