// The run store: an SQLite database (WAL mode) holding every training run — its config, status,
// model, dataset fingerprints, times — with its metrics, checkpoints and events. `lathe train` writes
// it; `lathe runs` and the GUI read it. Torch-free. Writes are committed as they happen, so a crash
// loses nothing that was reported. A run whose process died without finishing it (kill -9, a crash,
// power loss) reads back as "interrupted" (see run_owner.h), and its row is updated to say so.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/runs/run_reader.h"

struct sqlite3;

namespace lathe {

class RunStore : public RunReader {
public:
    // Opens (creating, or upgrading an older schema) the database at `path`.
    static std::unique_ptr<RunStore> open(const std::string& path);
    // $LATHE_HOME/lathe.db, else $XDG_DATA_HOME/lathe/lathe.db, else ~/.local/share/lathe/lathe.db.
    static std::string default_path();
    ~RunStore() override;
    RunStore(const RunStore&) = delete;  // owns the database connection
    RunStore& operator=(const RunStore&) = delete;

    int64_t create_run(const RunRecord& run);
    // running also records the calling process as the run's owner.
    void set_status(int64_t run, RunStatus status, const std::string& error = "");
    void set_final_metrics(int64_t run, const std::string& json);
    // All of `points` or, when one fails, none of them.
    void add_metrics(int64_t run, const std::vector<MetricPoint>& points);
    void add_checkpoint(int64_t run, const CheckpointRecord& checkpoint);
    void remove_checkpoint(int64_t run, const std::string& path);
    void add_event(int64_t run, const std::string& json_line);

    // A "running" run whose owner process is gone is returned, and recorded, as "interrupted".
    std::vector<RunRecord> list_runs() const override;
    std::optional<RunRecord> find_run(int64_t id) const override;
    std::vector<MetricPoint> metrics(int64_t run, const std::string& name = "") const override;
    std::vector<CheckpointRecord> checkpoints(int64_t run) const override;
    std::vector<std::string> events(int64_t run) const override;
    // Evaluation scores recorded beside the run (one transaction: all of them or none).
    void add_eval_scores(int64_t run, const std::vector<EvalScore>& scores);
    std::vector<EvalScore> eval_scores(int64_t run) const override;
    // Removes the run and everything recorded about it (not its files on disk).
    bool delete_run(int64_t run);

    static constexpr int kSchemaVersion = 3;
    std::string path() const override { return path_; }

private:
    RunStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
    void exec(const char* sql) const;
    RunRecord settle(RunRecord run) const;
    sqlite3* db_;
    std::string path_;
};

}  // namespace lathe
