// The trainer <-> Studio event contract (core/train/events.h): every event round-trips, the lines are
// byte for byte what `lathe train` printed before the structs existed, and docs/events.md describes
// exactly the events and keys the structs write.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "core/train/events.h"
#include "core/util/error.h"

using namespace lathe;
using nlohmann::json;

namespace {

// One event of each kind with every optional key present: together they hold every key there is.
std::vector<EventLine> full_events() {
    return {
        {7, StartEvent{.resumed = false, .step = 0, .total_steps = 120, .train_rows = 400, .validation_rows = 8, .trainable_parameters = 73728,
                       .device = "cuda:0", .output_dir = "/runs/a", .attention = "flash_varlen", .precision = "bfloat16"}},
        {7, StartEvent{.resumed = true, .step = 60, .total_steps = 120, .train_rows = 400, .validation_rows = 8, .trainable_parameters = 73728,
                       .device = "cpu", .output_dir = "/runs/a", .attention = "sdpa_per_sequence", .precision = "float32"}},
        {7, StepEvent{.step = 3, .total_steps = 120, .epoch = 0.075, .loss = 2.5, .lr = 1.5e-4, .grad_norm = 0.75, .tokens_per_s = 1234.5,
                      .elapsed_s = 2.25, .gpu_mem_gib = 1.125,
                      .preference = PreferenceMetrics{.rewards_chosen = 0.25, .rewards_rejected = -0.5, .rewards_margins = 0.75,
                                                      .rewards_accuracies = 1, .logps_chosen = -12.5, .logps_rejected = -20.25},
                      .projection = ProjectedLoss{.final_loss = 1.25, .low = 1.125, .high = 1.5}, .rank_mem_gib = std::vector<double>{1.125, 1.25}}},
        {7, EvalEvent{.step = 10, .eval_loss = 1.75, .perplexity = 5.75460267600573,
                      .projection = ProjectedLoss{.final_loss = 1.5, .low = 1.375, .high = 1.75}, .probe = "",
                      .preference = PreferenceMetrics{.rewards_chosen = 0.5, .rewards_rejected = -0.25, .rewards_margins = 0.75,
                                                      .rewards_accuracies = 0.5, .logps_chosen = -10.5, .logps_rejected = -18.25}}},
        {7, EvalEvent{.step = 10, .eval_loss = 1.75, .perplexity = 5.75460267600573, .projection = std::nullopt, .probe = "general",
                      .preference = std::nullopt}},
        {7, CheckpointEvent{.step = 10, .path = "/runs/a/checkpoint-10"}},
        {7, WarningEvent{.step = 0, .message = "d.jsonl: 1 row skipped",
                         .skipped = SkippedRows{.dataset = "d.jsonl", .skipped_rows = 1, .problems = {"d.jsonl:2: messages: not a list"}}}},
        {7, ErrorEvent{.kind = ErrorKind::out_of_memory, .message = "out of GPU memory"}},
        {7, EndEvent{.status = RunStatus::completed, .step = 120, .metrics = FinalMetrics{.step = 120, .loss = 1.5, .eval_loss = 1.625}}},
        {7, DatasetsEvent{.datasets = json::array({{{"path", "d.jsonl"}, {"rows", 400}}})}},
        {7, TaskScoreEvent{.step = 10, .task = "arc_easy", .metric = "acc_norm", .filter = "none", .value = 0.625, .stderr_value = 0.125}},
    };
}

std::set<std::string> keys_of(const json& j) {
    std::set<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
    return keys;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> backticked(const std::string& cell) {
    std::vector<std::string> out;
    static const std::regex tick("`([^`]+)`");
    for (std::sregex_iterator it(cell.begin(), cell.end(), tick), end; it != end; ++it) out.push_back((*it)[1]);
    return out;
}

struct DocRow {
    std::set<std::string> keys;
    std::string notes;
};

// docs/events.md's table: | `name` / `name` | `key`, `key` | notes |, one row per event.
std::map<std::string, DocRow> documented_events() {
    std::map<std::string, DocRow> rows;
    std::istringstream doc(read_file(std::string(LATHE_SOURCE_DIR) + "/docs/events.md"));
    std::string line;
    while (std::getline(doc, line)) {
        if (line.rfind("| `", 0) != 0) continue;
        std::vector<std::string> cells;
        std::stringstream s(line.substr(1));
        std::string cell;
        while (std::getline(s, cell, '|')) cells.push_back(cell);
        if (cells.size() < 3) continue;
        for (const auto& name : backticked(cells[0])) {
            auto keys = backticked(cells[1]);
            rows[name] = {std::set<std::string>(keys.begin(), keys.end()), cells[2]};
        }
    }
    return rows;
}

}  // namespace

TEST(Events, EveryEventRoundTrips) {
    for (const EventLine& e : full_events()) {
        const std::string line = to_line(e);
        auto back = parse_event_line(line);
        ASSERT_TRUE(back) << line;
        EXPECT_EQ(*back, e) << line;
        EXPECT_EQ(to_line(*back), line);
    }
}

TEST(Events, OptionalKeysStayAbsentWhenUnset) {
    EventLine step{1, StepEvent{.step = 1, .total_steps = 2, .epoch = 0.5, .loss = 1, .lr = 1e-3, .grad_norm = 0.5, .tokens_per_s = 10, .elapsed_s = 1,
                                .gpu_mem_gib = std::nullopt, .preference = std::nullopt, .projection = std::nullopt, .rank_mem_gib = std::nullopt}};
    EXPECT_FALSE(to_json(step).contains("gpu_mem_gib"));
    EXPECT_FALSE(to_json(step).contains("projected_final_loss"));  // before 20% of the run
    EXPECT_EQ(*parse_event_line(to_line(step)), step);
    EventLine warning{1, WarningEvent{.step = 4, .message = "every label in this step is -100; skipped", .skipped = std::nullopt}};
    EXPECT_EQ(keys_of(to_json(warning)), (std::set<std::string>{"event", "run_id", "step", "message"}));
    EXPECT_EQ(*parse_event_line(to_line(warning)), warning);
    // The validation set's evaluation keeps the form it had before probes existed.
    EventLine eval{1, EvalEvent{.step = 5, .eval_loss = 2.5, .perplexity = 12.182493960703473, .projection = std::nullopt, .probe = "",
                                .preference = std::nullopt}};
    EXPECT_EQ(keys_of(to_json(eval)), (std::set<std::string>{"event", "run_id", "step", "eval_loss", "perplexity"}));
    EXPECT_EQ(*parse_event_line(to_line(eval)), eval);
    EventLine failed{1, EndEvent{.status = RunStatus::failed, .step = std::nullopt, .metrics = std::nullopt}};
    EXPECT_EQ(to_line(failed), R"({"event":"end","run_id":1,"status":"failed"})");
    EXPECT_EQ(*parse_event_line(to_line(failed)), failed);
}

// Lines exactly as core/train/trainer.cpp printed them before the structs (hand-built JSON, keys
// sorted by nlohmann::json): reading and writing them again gives the same bytes.
TEST(Events, LinesAreByteCompatibleWithEarlierTrainers) {
    const std::vector<std::string> lines = {
        R"({"attention":"sdpa_per_sequence","device":"cpu","event":"start","output_dir":"/tmp/run","precision":"float32","run_id":3,"step":0,"total_steps":12,"train_rows":40,"trainable_parameters":1234,"validation_rows":4})",
        R"({"attention":"flash_varlen","device":"cuda:0","event":"resume","output_dir":"/tmp/run","precision":"bfloat16","run_id":3,"step":6,"total_steps":12,"train_rows":40,"trainable_parameters":1234,"validation_rows":0})",
        R"({"elapsed_s":0.5123,"epoch":0.25,"event":"step","grad_norm":3.0625,"loss":10.8125,"lr":0.0002,"run_id":3,"step":3,"tokens_per_s":901.25,"total_steps":12})",
        R"({"elapsed_s":0.5123,"epoch":1.0,"event":"step","gpu_mem_gib":0.75,"grad_norm":3.0625,"loss":10.8125,"lr":0.0002,"run_id":3,"step":12,"tokens_per_s":901.25,"total_steps":12})",
        R"({"elapsed_s":0.5123,"epoch":0.5,"event":"step","grad_norm":null,"loss":null,"lr":1e+30,"run_id":3,"step":6,"tokens_per_s":901.25,"total_steps":12})",
        R"({"eval_loss":2.5,"event":"eval","perplexity":12.182493960703473,"run_id":3,"step":12})",
        R"({"event":"checkpoint","path":"/tmp/run/checkpoint-12","run_id":3,"step":12})",
        R"({"event":"warning","message":"no GPU found (device: auto): training runs on the CPU, which is much slower","run_id":3,"step":0})",
        R"({"dataset":"bad.jsonl","event":"warning","message":"bad.jsonl: 1 row skipped (first: bad.jsonl:2: text: missing); strict: true makes this fatal","problems":["bad.jsonl:2: text: missing"],"run_id":3,"skipped_rows":1,"step":0})",
        R"({"event":"error","kind":"out_of_memory","message":"out of GPU memory: lower micro_batch_size or sequence_len, or use an adapter instead of full finetuning","run_id":3})",
        R"({"event":"end","metrics":{"eval_loss":2.5,"loss":2.25,"step":12},"run_id":3,"status":"completed","step":12})",
        R"({"event":"end","metrics":{"step":4},"run_id":3,"status":"stopped","step":4})",
        R"({"event":"end","run_id":3,"status":"failed"})",
    };
    for (const auto& line : lines) {
        auto e = parse_event_line(line);
        ASSERT_TRUE(e) << line;
        EXPECT_EQ(e->run_id, 3);
        EXPECT_EQ(to_line(*e), line);
    }
}

// Before `kind` was on every error, only out-of-memory errors had one: the others read as `other`, and
// are written back with the key added (keys may be added, none renamed).
TEST(Events, ErrorLinesWithoutKindReadAsOther) {
    const std::string old_line = R"({"event":"error","message":"the loss became nan at step 3","run_id":3})";
    auto e = parse_event_line(old_line);
    ASSERT_TRUE(e);
    const auto& error = std::get<ErrorEvent>(e->event);
    EXPECT_EQ(error.kind, ErrorKind::other);
    EXPECT_EQ(error.message, "the loss became nan at step 3");
    json written = to_json(*e);
    EXPECT_EQ(written["kind"], "other");
    written.erase("kind");
    EXPECT_EQ(written.dump(), old_line);
    // A kind a newer trainer added reads as other too, not as a broken line.
    auto newer = parse_event_line(R"({"event":"error","kind":"cosmic_ray","message":"m","run_id":3})");
    ASSERT_TRUE(newer);
    EXPECT_EQ(std::get<ErrorEvent>(newer->event).kind, ErrorKind::other);
}

TEST(Events, EveryErrorKindAndStatusHasOneName) {
    for (ErrorKind k : {ErrorKind::other, ErrorKind::out_of_memory, ErrorKind::diverged, ErrorKind::bad_data, ErrorKind::missing_file})
        EXPECT_EQ(parse_error_kind(to_string(k)), k);
    EXPECT_FALSE(parse_error_kind("out of memory"));
    for (RunStatus s : {RunStatus::created, RunStatus::running, RunStatus::completed, RunStatus::stopped, RunStatus::failed, RunStatus::interrupted})
        EXPECT_EQ(parse_run_status(to_string(s)), s);
    EXPECT_FALSE(parse_run_status("crashed"));
    EXPECT_STREQ(to_string(RunStatus::interrupted), "interrupted");
}

TEST(Events, UnknownEventsAreSkippedNotErrors) {
    EXPECT_FALSE(parse_event_line(R"({"event":"gradient_histogram","run_id":1,"step":3})"));
}

TEST(Events, BrokenLinesNameTheEventAndKey) {
    auto message_of = [](const std::string& line) {
        try {
            parse_event_line(line);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(message_of(R"({"event":"step","run_id":1,"step":1})"), "`step` event: no `total_steps`");
    EXPECT_EQ(message_of(R"({"event":"checkpoint","path":3,"step":1})"), "`checkpoint` event: `path` is 3, not a string");
    EXPECT_EQ(message_of(R"({"event":"end","status":"exploded"})"), "`end` event: unknown status 'exploded'");
    EXPECT_NE(message_of("not json").find("not JSON"), std::string::npos);
    EXPECT_NE(message_of(R"([1,2])").find("not a JSON object"), std::string::npos);
    EXPECT_NE(message_of(R"({"step":1})").find("no `event` name"), std::string::npos);
    // A projection comes whole: its band without the projection, or the projection without its band, is broken.
    EXPECT_EQ(message_of(R"({"eval_loss":2.5,"event":"eval","perplexity":12.18,"projected_final_loss":2.1,"projected_low":2.0,"step":12})"),
              "`eval` event: no `projected_high`");
}

// docs/events.md's table names exactly the events and keys the structs write, both ways.
TEST(Events, DocsDescribeExactlyTheStructs) {
    auto doc = documented_events();
    std::set<std::string> written_names;
    // An event's forms together (an eval of the validation set with its projection, a probe's eval with
    // its name) write what its row lists.
    std::map<std::string, std::set<std::string>> written_keys;
    for (const EventLine& e : full_events()) {
        const std::string name = event_name(e.event);
        written_names.insert(name);
        ASSERT_TRUE(doc.count(name)) << "docs/events.md has no row for the `" << name << "` event";
        std::set<std::string> keys = keys_of(to_json(e));
        keys.erase("event");
        keys.erase("run_id");
        written_keys[name].insert(keys.begin(), keys.end());
    }
    for (const auto& [name, keys] : written_keys)
        EXPECT_EQ(doc[name].keys, keys) << "docs/events.md's keys for `" << name << "` differ from what the struct writes";
    EXPECT_EQ(written_names, std::set<std::string>(event_names().begin(), event_names().end()));
    std::set<std::string> doc_names;
    for (const auto& [name, _] : doc) doc_names.insert(name);
    EXPECT_EQ(doc_names, written_names) << "docs/events.md documents an event the structs do not write";
    // The values readers switch on are listed where the key is described.
    for (ErrorKind k : {ErrorKind::other, ErrorKind::out_of_memory, ErrorKind::diverged, ErrorKind::bad_data, ErrorKind::missing_file})
        EXPECT_NE(doc["error"].notes.find(std::string("`") + to_string(k) + "`"), std::string::npos) << to_string(k);
    for (RunStatus s : {RunStatus::completed, RunStatus::stopped, RunStatus::failed})
        EXPECT_NE(doc["end"].notes.find(std::string("`") + to_string(s) + "`"), std::string::npos) << to_string(s);
}

// A probe's evaluation names its probe; its metrics in the run store carry the name after a slash, and
// only those read back as a probe's.
TEST(Events, ProbeEvaluationsNameTheirProbe) {
    const std::string line = R"({"eval_loss":3.25,"event":"eval","perplexity":25.790339917193062,"probe":"general text","run_id":3,"step":0})";
    auto e = parse_event_line(line);
    ASSERT_TRUE(e);
    const auto& eval = std::get<EvalEvent>(e->event);
    EXPECT_EQ(eval.probe, "general text");
    EXPECT_EQ(eval.step, 0);
    EXPECT_EQ(to_line(*e), line);
    EXPECT_EQ(probe_loss_metric("general text"), "eval_loss/general text");
    EXPECT_EQ(probe_perplexity_metric("code"), "eval_perplexity/code");
    EXPECT_EQ(probe_of_loss_metric(probe_loss_metric("general text")), "general text");
    EXPECT_FALSE(probe_of_loss_metric("eval_loss"));
    EXPECT_FALSE(probe_of_loss_metric("eval_loss/"));
    EXPECT_FALSE(probe_of_loss_metric("eval_perplexity/code"));
    EXPECT_FALSE(probe_of_loss_metric("loss"));
}

// An eval_tasks score: the standard error only when the harness gives one; its run-store metrics carry the
// harness's result key after the task's name, and only a score (not its standard error) reads back as one.
TEST(Events, TaskScoresNameTaskMetricAndFilter) {
    EventLine no_stderr{3, TaskScoreEvent{.step = 0, .task = "tiny_gen", .metric = "exact_match", .filter = "strict-match", .value = 0.5,
                                          .stderr_value = std::nullopt}};
    EXPECT_EQ(to_line(no_stderr), R"({"event":"task_score","filter":"strict-match","metric":"exact_match","run_id":3,"step":0,"task":"tiny_gen","value":0.5})");
    EXPECT_EQ(*parse_event_line(to_line(no_stderr)), no_stderr);
    EXPECT_EQ(task_score_metric("arc_easy", "acc", "none"), "eval_tasks/arc_easy/acc,none");
    EXPECT_EQ(task_stderr_metric("arc_easy", "acc", "none"), "eval_tasks/arc_easy/acc_stderr,none");
    EXPECT_EQ(task_score_of_metric("eval_tasks/arc_easy/acc,none"), (TaskScoreName{.task = "arc_easy", .metric = "acc", .filter = "none"}));
    EXPECT_EQ(task_score_of_metric(task_score_metric("mmlu/law", "acc_norm", "none")),
              (TaskScoreName{.task = "mmlu/law", .metric = "acc_norm", .filter = "none"}));
    EXPECT_FALSE(task_score_of_metric(task_stderr_metric("arc_easy", "acc", "none")));
    EXPECT_FALSE(task_score_of_metric("eval_tasks/arc_easy"));
    EXPECT_FALSE(task_score_of_metric("eval_tasks/arc_easy/acc"));
    EXPECT_FALSE(task_score_of_metric("eval_loss/arc_easy"));
    EXPECT_FALSE(task_score_of_metric("loss"));
}

TEST(FinalMetrics, RoundTripAndRequireStep) {
    FinalMetrics m{.step = 9, .loss = 1.25, .eval_loss = std::nullopt};
    EXPECT_EQ(to_json(m).dump(), R"({"loss":1.25,"step":9})");
    EXPECT_EQ(final_metrics_from_json(to_json(m)), m);
    EXPECT_THROW(final_metrics_from_json(json::object()), Error);
}
