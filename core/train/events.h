// The trainer <-> Studio contract: `lathe train` prints one JSON line per event on stdout (and stores
// it in the run store); the Studio and `lathe runs` read them back. One struct per event, written and
// read here only, so both sides agree by construction. Field names and values are a contract users'
// scripts rely on (docs/events.md, checked against these structs by tests/test_events.cpp): keys may be
// added, none renamed. Torch-free (lathe_base).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/runs/run_status.h"

namespace lathe {

// Why a run failed, so a reader can advise without searching the message. `other` is also what an
// error line from before this key existed, or of a kind this version does not know, reads as.
enum class ErrorKind {
    other,
    out_of_memory,  // the device ran out of memory
    diverged,       // the loss became NaN or infinite
    bad_data,       // a dataset could not be read or holds no usable rows
    missing_file,   // a file or folder the config names does not exist
};
const char* to_string(ErrorKind kind);
std::optional<ErrorKind> parse_error_kind(std::string_view name);

// `start`, or `resume` when the run continues from a checkpoint at `step`.
struct StartEvent {
    bool resumed = false;
    int64_t step = 0, total_steps = 0;
    int64_t train_rows = 0, validation_rows = 0, trainable_parameters = 0;
    std::string device, output_dir;
    std::string attention;  // flash_varlen or sdpa_per_sequence
    std::string precision;  // bfloat16 or float32
    bool operator==(const StartEvent&) const = default;
};

// TRL's preference metrics of one step (rl runs), each the mean over the step's pairs; written under TRL's
// names: rewards/chosen, rewards/rejected, rewards/margins, rewards/accuracies, logps/chosen, logps/rejected.
struct PreferenceMetrics {
    double rewards_chosen = 0, rewards_rejected = 0, rewards_margins = 0, rewards_accuracies = 0;
    double logps_chosen = 0, logps_rejected = 0;
    bool operator==(const PreferenceMetrics&) const = default;
};

// The forecast of a run's final loss (core/train/loss_forecast.h), written as projected_final_loss,
// projected_low and projected_high: the projection and its 80% band. Step events carry the training
// loss's, eval events the validation loss's; neither has one before 20% of the run is done.
struct ProjectedLoss {
    double final_loss = 0, low = 0, high = 0;
    bool operator==(const ProjectedLoss&) const = default;
};

struct StepEvent {
    int64_t step = 0, total_steps = 0;
    double epoch = 0;  // fractional
    double loss = 0, lr = 0;
    double grad_norm = 0;  // before clipping
    double tokens_per_s = 0, elapsed_s = 0;
    std::optional<double> gpu_mem_gib;  // CUDA devices only
    std::optional<PreferenceMetrics> preference;  // rl runs only
    std::optional<ProjectedLoss> projection;      // from 20% of the run on
    // Data parallel runs: each rank's memory by rank, GiB (GPU memory its caching allocator holds on a CUDA
    // device, its resident memory on the CPU), gathered by rank 0.
    std::optional<std::vector<double>> rank_mem_gib;
    bool operator==(const StepEvent&) const = default;
};

// The validation set's loss, or (probe set) the loss of one of the run's probe_datasets: named evaluation
// sets, such as general text and the new domain, that show what continued pretraining forgets and learns.
struct EvalEvent {
    int64_t step = 0;
    double eval_loss = 0, perplexity = 0;
    std::optional<ProjectedLoss> projection;  // from 20% of the run on
    std::string probe;  // the probe_datasets entry's name; "" for the validation set (and then not written)
    // rl runs' validation set: TRL's metrics over it, written under the names TRL's evaluate() logs
    // (eval_rewards/chosen, ..., eval_logps/rejected: each the mean of the evaluation batches' means).
    std::optional<PreferenceMetrics> preference;
    bool operator==(const EvalEvent&) const = default;
};

struct CheckpointEvent {
    int64_t step = 0;
    std::string path;
    bool operator==(const CheckpointEvent&) const = default;
};

// Rows a dataset skipped (non-strict runs), carried by the warning that reports them.
struct SkippedRows {
    std::string dataset;
    int64_t skipped_rows = 0;
    std::vector<std::string> problems;  // the first 20, each "file:line: field: why"
    bool operator==(const SkippedRows&) const = default;
};

struct WarningEvent {
    int64_t step = 0;
    std::string message;
    std::optional<SkippedRows> skipped;
    bool operator==(const WarningEvent&) const = default;
};

struct ErrorEvent {
    ErrorKind kind = ErrorKind::other;
    std::string message;
    bool operator==(const ErrorEvent&) const = default;
};

// A run's last numbers: the `end` event's `metrics`, and the run store's final_metrics.
struct FinalMetrics {
    int64_t step = 0;
    std::optional<double> loss, eval_loss;
    bool operator==(const FinalMetrics&) const = default;
};

// A failed run's end carries its status only.
struct EndEvent {
    RunStatus status = RunStatus::completed;
    std::optional<int64_t> step;
    std::optional<FinalMetrics> metrics;
    bool operator==(const EndEvent&) const = default;
};

// One score of one of the run's eval_tasks (lm-evaluation-harness task YAMLs, core/eval) with the model as
// trained so far: a metric under a filter, as the harness reports "acc,none" and "acc_stderr,none".
struct TaskScoreEvent {
    int64_t step = 0;  // 0: before the first step
    std::string task, metric, filter;
    double value = 0;
    std::optional<double> stderr_value;  // written as `stderr`; none for a metric without one
    bool operator==(const TaskScoreEvent&) const = default;
};

// Stored in the run store only, not printed: each dataset's fingerprint (path, type, weight, rows,
// content hash, cache file...), as core/data's prepare_dataset describes it.
struct DatasetsEvent {
    nlohmann::json datasets = nlohmann::json::array();
    bool operator==(const DatasetsEvent&) const = default;
};

using TrainEvent = std::variant<StartEvent, StepEvent, EvalEvent, CheckpointEvent, WarningEvent, ErrorEvent, EndEvent, DatasetsEvent, TaskScoreEvent>;

// One line of the stream: the event and the run it belongs to.
struct EventLine {
    int64_t run_id = 0;
    TrainEvent event;
    bool operator==(const EventLine&) const = default;
};

// The `event` value: start, resume, step, eval, checkpoint, warning, error, end, datasets, task_score.
const char* event_name(const TrainEvent& event);
// Every name event_name can return (what docs/events.md must describe).
const std::vector<std::string>& event_names();

// The event as a JSON object with `event` and `run_id`; `dump()` of it is the line.
nlohmann::json to_json(const EventLine& line);
std::string to_line(const EventLine& line);
// nullopt for an object whose `event` this version does not know (a newer trainer may add kinds);
// throws lathe::Error naming the event and key for a known event with a key missing or mistyped.
std::optional<EventLine> event_from_json(const nlohmann::json& object);
// As event_from_json; also throws for a line that is not a JSON object.
std::optional<EventLine> parse_event_line(std::string_view line);

nlohmann::json to_json(const FinalMetrics& metrics);
// The run-store metrics of a probe's evaluations: eval_loss/NAME and eval_perplexity/NAME (the validation
// set's are eval_loss and eval_perplexity).
std::string probe_loss_metric(std::string_view probe);
std::string probe_perplexity_metric(std::string_view probe);
// The probe a metric name belongs to (NAME of eval_loss/NAME); nullopt for any other metric.
std::optional<std::string> probe_of_loss_metric(std::string_view metric);
// The run-store metrics of an eval_tasks score: eval_tasks/TASK/METRIC,FILTER and its standard error
// eval_tasks/TASK/METRIC_stderr,FILTER (the harness's result keys after the task's name).
std::string task_score_metric(std::string_view task, std::string_view metric, std::string_view filter);
std::string task_stderr_metric(std::string_view task, std::string_view metric, std::string_view filter);
struct TaskScoreName {
    std::string task, metric, filter;
    bool operator==(const TaskScoreName&) const = default;
};
// What a task_score_metric name holds; nullopt for any other metric (a standard error's included).
std::optional<TaskScoreName> task_score_of_metric(std::string_view metric);
// Throws lathe::Error when `step` is missing.
FinalMetrics final_metrics_from_json(const nlohmann::json& object);

}  // namespace lathe
