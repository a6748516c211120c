#include "core/train/events.h"

#include <limits>

#include "core/util/error.h"

namespace lathe {

using nlohmann::json;

const char* to_string(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::other: return "other";
        case ErrorKind::out_of_memory: return "out_of_memory";
        case ErrorKind::diverged: return "diverged";
        case ErrorKind::bad_data: return "bad_data";
        case ErrorKind::missing_file: return "missing_file";
    }
    return "other";
}

std::optional<ErrorKind> parse_error_kind(std::string_view name) {
    for (ErrorKind k : {ErrorKind::other, ErrorKind::out_of_memory, ErrorKind::diverged, ErrorKind::bad_data, ErrorKind::missing_file})
        if (name == to_string(k)) return k;
    return std::nullopt;
}

namespace {

// Reads one key of an event, naming the event and key when it is missing or of the wrong type.
class Reader {
public:
    Reader(const json& object, std::string event) : j_(object), event_(std::move(event)) {}

    template <class T>
    T get(const char* key) const {
        auto it = j_.find(key);
        if (it == j_.end()) throw Error("`" + event_ + "` event: no `" + key + "`");
        return as<T>(*it, key);
    }
    template <class T>
    std::optional<T> optional(const char* key) const {
        auto it = j_.find(key);
        if (it == j_.end() || it->is_null()) return std::nullopt;
        return as<T>(*it, key);
    }
    bool has(const char* key) const { return j_.contains(key); }

private:
    template <class T>
    T as(const json& value, const char* key) const {
        // JSON has no NaN or infinity: nlohmann::json writes them as null (a diverged step's loss).
        if constexpr (std::is_floating_point_v<T>)
            if (value.is_null()) return std::numeric_limits<T>::quiet_NaN();
        try {
            return value.get<T>();
        } catch (const json::exception&) {
            throw Error("`" + event_ + "` event: `" + key + "` is " + value.dump() + ", not a " + expected<T>());
        }
    }
    template <class T>
    static const char* expected() {
        if constexpr (std::is_same_v<T, std::string>) return "string";
        else if constexpr (std::is_integral_v<T>) return "whole number";
        else if constexpr (std::is_arithmetic_v<T>) return "number";
        else return "list of strings";
    }
    const json& j_;
    std::string event_;
};

void write_projection(json& j, const std::optional<ProjectedLoss>& p) {
    if (!p) return;
    j["projected_final_loss"] = p->final_loss;
    j["projected_low"] = p->low;
    j["projected_high"] = p->high;
}

// TRL's preference metric names; evaluations prefix them with "eval_" as TRL's evaluate() does.
void write_preference(json& j, const PreferenceMetrics& p, const std::string& prefix) {
    j[prefix + "rewards/chosen"] = p.rewards_chosen;
    j[prefix + "rewards/rejected"] = p.rewards_rejected;
    j[prefix + "rewards/margins"] = p.rewards_margins;
    j[prefix + "rewards/accuracies"] = p.rewards_accuracies;
    j[prefix + "logps/chosen"] = p.logps_chosen;
    j[prefix + "logps/rejected"] = p.logps_rejected;
}
std::optional<PreferenceMetrics> read_preference(const Reader& r, const std::string& prefix) {
    auto get = [&](const char* name) { return r.get<double>((prefix + name).c_str()); };
    if (!r.has((prefix + "rewards/chosen").c_str())) return std::nullopt;
    return PreferenceMetrics{.rewards_chosen = get("rewards/chosen"), .rewards_rejected = get("rewards/rejected"),
                             .rewards_margins = get("rewards/margins"), .rewards_accuracies = get("rewards/accuracies"),
                             .logps_chosen = get("logps/chosen"), .logps_rejected = get("logps/rejected")};
}
std::optional<ProjectedLoss> read_projection(const Reader& r) {
    if (!r.has("projected_final_loss")) return std::nullopt;
    return ProjectedLoss{.final_loss = r.get<double>("projected_final_loss"), .low = r.get<double>("projected_low"),
                         .high = r.get<double>("projected_high")};
}

struct Writer {
    json& j;
    void operator()(const StartEvent& e) const {
        j["step"] = e.step;
        j["total_steps"] = e.total_steps;
        j["train_rows"] = e.train_rows;
        j["validation_rows"] = e.validation_rows;
        j["trainable_parameters"] = e.trainable_parameters;
        j["device"] = e.device;
        j["output_dir"] = e.output_dir;
        j["attention"] = e.attention;
        j["precision"] = e.precision;
    }
    void operator()(const StepEvent& e) const {
        j["step"] = e.step;
        j["total_steps"] = e.total_steps;
        j["epoch"] = e.epoch;
        j["loss"] = e.loss;
        j["lr"] = e.lr;
        j["grad_norm"] = e.grad_norm;
        j["tokens_per_s"] = e.tokens_per_s;
        j["elapsed_s"] = e.elapsed_s;
        if (e.gpu_mem_gib) j["gpu_mem_gib"] = *e.gpu_mem_gib;
        if (e.preference) write_preference(j, *e.preference, "");
        write_projection(j, e.projection);
        if (e.rank_mem_gib) j["rank_mem_gib"] = *e.rank_mem_gib;
    }
    void operator()(const EvalEvent& e) const {
        j["step"] = e.step;
        j["eval_loss"] = e.eval_loss;
        j["perplexity"] = e.perplexity;
        write_projection(j, e.projection);
        if (!e.probe.empty()) j["probe"] = e.probe;
        if (e.preference) write_preference(j, *e.preference, "eval_");
    }
    void operator()(const CheckpointEvent& e) const {
        j["step"] = e.step;
        j["path"] = e.path;
    }
    void operator()(const WarningEvent& e) const {
        j["step"] = e.step;
        j["message"] = e.message;
        if (e.skipped) {
            j["dataset"] = e.skipped->dataset;
            j["skipped_rows"] = e.skipped->skipped_rows;
            j["problems"] = e.skipped->problems;
        }
    }
    void operator()(const ErrorEvent& e) const {
        j["kind"] = to_string(e.kind);
        j["message"] = e.message;
    }
    void operator()(const EndEvent& e) const {
        j["status"] = to_string(e.status);
        if (e.step) j["step"] = *e.step;
        if (e.metrics) j["metrics"] = to_json(*e.metrics);
    }
    void operator()(const DatasetsEvent& e) const {
        j["datasets"] = e.datasets;
    }
    void operator()(const TaskScoreEvent& e) const {
        j["step"] = e.step;
        j["task"] = e.task;
        j["metric"] = e.metric;
        j["filter"] = e.filter;
        j["value"] = e.value;
        if (e.stderr_value) j["stderr"] = *e.stderr_value;
    }
};

}  // namespace

const char* event_name(const TrainEvent& event) {
    struct Namer {
        const char* operator()(const StartEvent& e) const { return e.resumed ? "resume" : "start"; }
        const char* operator()(const StepEvent&) const { return "step"; }
        const char* operator()(const EvalEvent&) const { return "eval"; }
        const char* operator()(const CheckpointEvent&) const { return "checkpoint"; }
        const char* operator()(const WarningEvent&) const { return "warning"; }
        const char* operator()(const ErrorEvent&) const { return "error"; }
        const char* operator()(const EndEvent&) const { return "end"; }
        const char* operator()(const DatasetsEvent&) const { return "datasets"; }
        const char* operator()(const TaskScoreEvent&) const { return "task_score"; }
    };
    return std::visit(Namer{}, event);
}

const std::vector<std::string>& event_names() {
    static const std::vector<std::string> names = {"start", "resume", "step", "eval", "checkpoint", "warning", "error", "end", "datasets", "task_score"};
    return names;
}

json to_json(const EventLine& line) {
    json j = {{"event", event_name(line.event)}};
    std::visit(Writer{j}, line.event);
    j["run_id"] = line.run_id;
    return j;
}

std::string to_line(const EventLine& line) { return to_json(line).dump(); }

json to_json(const FinalMetrics& m) {
    json j = {{"step", m.step}};
    if (m.loss) j["loss"] = *m.loss;
    if (m.eval_loss) j["eval_loss"] = *m.eval_loss;
    return j;
}

std::string probe_loss_metric(std::string_view probe) { return "eval_loss/" + std::string(probe); }
std::string probe_perplexity_metric(std::string_view probe) { return "eval_perplexity/" + std::string(probe); }

std::optional<std::string> probe_of_loss_metric(std::string_view metric) {
    constexpr std::string_view prefix = "eval_loss/";
    if (metric.size() <= prefix.size() || metric.substr(0, prefix.size()) != prefix) return std::nullopt;
    return std::string(metric.substr(prefix.size()));
}

namespace {
constexpr std::string_view kTaskScorePrefix = "eval_tasks/";
}

std::string task_score_metric(std::string_view task, std::string_view metric, std::string_view filter) {
    return std::string(kTaskScorePrefix) + std::string(task) + "/" + std::string(metric) + "," + std::string(filter);
}

std::string task_stderr_metric(std::string_view task, std::string_view metric, std::string_view filter) {
    return task_score_metric(task, std::string(metric) + "_stderr", filter);
}

std::optional<TaskScoreName> task_score_of_metric(std::string_view name) {
    if (name.size() <= kTaskScorePrefix.size() || name.substr(0, kTaskScorePrefix.size()) != kTaskScorePrefix) return std::nullopt;
    name.remove_prefix(kTaskScorePrefix.size());
    // A task's name may hold a slash; a metric's and a filter's (acc, exact_match, strict-match) do not.
    const size_t slash = name.rfind('/');
    if (slash == std::string_view::npos || slash == 0) return std::nullopt;
    const std::string_view key = name.substr(slash + 1);
    const size_t comma = key.find(',');
    if (comma == std::string_view::npos || comma == 0 || comma + 1 == key.size()) return std::nullopt;
    const std::string_view metric = key.substr(0, comma);
    constexpr std::string_view stderr_suffix = "_stderr";
    if (metric.size() > stderr_suffix.size() && metric.substr(metric.size() - stderr_suffix.size()) == stderr_suffix) return std::nullopt;
    return TaskScoreName{.task = std::string(name.substr(0, slash)), .metric = std::string(metric), .filter = std::string(key.substr(comma + 1))};
}

FinalMetrics final_metrics_from_json(const json& object) {
    if (!object.is_object()) throw Error("final metrics: " + object.dump() + " is not a JSON object");
    Reader r(object, "end");
    return {.step = r.get<int64_t>("step"), .loss = r.optional<double>("loss"), .eval_loss = r.optional<double>("eval_loss")};
}

std::optional<EventLine> event_from_json(const json& j) {
    if (!j.is_object()) throw Error("event line: " + j.dump().substr(0, 80) + " is not a JSON object");
    auto name_it = j.find("event");
    if (name_it == j.end() || !name_it->is_string()) throw Error("event line: no `event` name in " + j.dump().substr(0, 80));
    const std::string name = name_it->get<std::string>();
    Reader r(j, name);
    EventLine line;
    line.run_id = r.optional<int64_t>("run_id").value_or(0);
    if (name == "start" || name == "resume") {
        line.event = StartEvent{.resumed = name == "resume", .step = r.get<int64_t>("step"), .total_steps = r.get<int64_t>("total_steps"),
                                .train_rows = r.get<int64_t>("train_rows"), .validation_rows = r.get<int64_t>("validation_rows"),
                                .trainable_parameters = r.get<int64_t>("trainable_parameters"), .device = r.get<std::string>("device"),
                                .output_dir = r.get<std::string>("output_dir"), .attention = r.get<std::string>("attention"),
                                .precision = r.get<std::string>("precision")};
    } else if (name == "step") {
        line.event = StepEvent{.step = r.get<int64_t>("step"), .total_steps = r.get<int64_t>("total_steps"), .epoch = r.get<double>("epoch"),
                               .loss = r.get<double>("loss"), .lr = r.get<double>("lr"), .grad_norm = r.get<double>("grad_norm"),
                               .tokens_per_s = r.get<double>("tokens_per_s"), .elapsed_s = r.get<double>("elapsed_s"),
                               .gpu_mem_gib = r.optional<double>("gpu_mem_gib"), .preference = std::nullopt,
                               .projection = read_projection(r), .rank_mem_gib = r.optional<std::vector<double>>("rank_mem_gib")};
        std::get<StepEvent>(line.event).preference = read_preference(r, "");
    } else if (name == "eval") {
        line.event = EvalEvent{.step = r.get<int64_t>("step"), .eval_loss = r.get<double>("eval_loss"), .perplexity = r.get<double>("perplexity"),
                               .projection = read_projection(r),
                               .probe = r.optional<std::string>("probe").value_or(""), .preference = read_preference(r, "eval_")};
    } else if (name == "checkpoint") {
        line.event = CheckpointEvent{.step = r.get<int64_t>("step"), .path = r.get<std::string>("path")};
    } else if (name == "warning") {
        WarningEvent w{.step = r.get<int64_t>("step"), .message = r.get<std::string>("message"), .skipped = std::nullopt};
        if (r.has("dataset"))
            w.skipped = SkippedRows{.dataset = r.get<std::string>("dataset"), .skipped_rows = r.get<int64_t>("skipped_rows"),
                                    .problems = r.optional<std::vector<std::string>>("problems").value_or(std::vector<std::string>{})};
        line.event = std::move(w);
    } else if (name == "error") {
        // Lines from before `kind` was on every error have it only for out_of_memory.
        auto kind = r.optional<std::string>("kind");
        line.event = ErrorEvent{.kind = kind ? parse_error_kind(*kind).value_or(ErrorKind::other) : ErrorKind::other,
                                .message = r.get<std::string>("message")};
    } else if (name == "end") {
        const std::string status = r.get<std::string>("status");
        auto parsed = parse_run_status(status);
        if (!parsed) throw Error("`end` event: unknown status '" + status + "'");
        EndEvent end{.status = *parsed, .step = r.optional<int64_t>("step"), .metrics = std::nullopt};
        if (r.has("metrics")) end.metrics = final_metrics_from_json(j["metrics"]);
        line.event = end;
    } else if (name == "task_score") {
        line.event = TaskScoreEvent{.step = r.get<int64_t>("step"), .task = r.get<std::string>("task"), .metric = r.get<std::string>("metric"),
                                    .filter = r.get<std::string>("filter"), .value = r.get<double>("value"),
                                    .stderr_value = r.optional<double>("stderr")};
    } else if (name == "datasets") {
        auto it = j.find("datasets");
        if (it == j.end() || !it->is_array()) throw Error("`datasets` event: no `datasets` list");
        line.event = DatasetsEvent{.datasets = *it};
    } else {
        return std::nullopt;
    }
    return line;
}

std::optional<EventLine> parse_event_line(std::string_view text) {
    json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw Error("event line is not JSON: " + std::string(text.substr(0, 80)));
    return event_from_json(j);
}

}  // namespace lathe
