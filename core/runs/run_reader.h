// What a run store holds, and the read-only view of it that the Studio's pages get (RunStore is one;
// the Studio's StudioRunStore forwards to the one RunStore the main window owns). Torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/runs/run_owner.h"
#include "core/runs/run_status.h"

namespace lathe {

struct RunRecord {
    int64_t id = 0;
    std::string name;
    RunStatus status = RunStatus::created;
    std::string config_path;
    std::string config_text;   // the YAML as it was when the run started
    std::string model;
    std::string datasets;      // JSON: [{path, fingerprint}]
    std::string output_dir;
    double created_at = 0, started_at = 0, finished_at = 0;  // Unix seconds
    std::string error;
    std::string final_metrics; // JSON object
    RunOwner owner;            // the process that last set it running
};

struct MetricPoint {
    int64_t step = 0;
    std::string name;
    double value = 0;
};

struct CheckpointRecord {
    int64_t step = 0;
    std::string path;
    double created_at = 0;
};

// One score of `lathe eval` (an lm-evaluation-harness metric) recorded beside a run, so the base model,
// the run's checkpoints and its exports can be compared on the same tasks.
struct EvalScore {
    std::string model;        // what was scored: "base", "checkpoint 120", "model /path/to/export", ...
    int64_t step = -1;        // the run's checkpoint step; -1 for anything else
    std::string task;
    std::string metric;       // acc, acc_norm, exact_match, word_perplexity, ...
    std::string filter;       // the harness's filter name ("none" when there is none)
    double value = 0;
    std::optional<double> stderr_value;  // the harness's standard error; none for metrics without one
    int64_t num_fewshot = 0;
    int64_t limit = -1;       // documents scored per task (-1: all)
    double time = 0;          // Unix seconds (set when recorded)
};

class RunReader {
public:
    virtual ~RunReader() = default;
    // A "running" run whose owner process is gone is returned as "interrupted".
    virtual std::vector<RunRecord> list_runs() const = 0;
    virtual std::optional<RunRecord> find_run(int64_t id) const = 0;
    // In the order recorded; only the metric `name` (ordered by step) when given.
    virtual std::vector<MetricPoint> metrics(int64_t run, const std::string& name = "") const = 0;
    virtual std::vector<CheckpointRecord> checkpoints(int64_t run) const = 0;  // by step
    virtual std::vector<std::string> events(int64_t run) const = 0;            // JSON lines, in order
    // `lathe eval --record-run` scores kept beside the run, in the order recorded.
    virtual std::vector<EvalScore> eval_scores(int64_t run) const = 0;
    // The database file (what `lathe train --store` and `lathe export --store` are given).
    virtual std::string path() const = 0;

protected:
    RunReader() = default;
    RunReader(const RunReader&) = default;
    RunReader& operator=(const RunReader&) = default;
};

}  // namespace lathe
