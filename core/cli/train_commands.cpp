// lathe train / lathe runs.
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/cli/commands.h"
#include "core/cli/distributed_train.h"
#include "core/runs/run_store.h"
#include "core/train/distributed_env.h"
#include "core/train/train_checkpoint.h"
#include "core/train/trainer.h"
#include "core/util/error.h"

namespace lathe {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string when(double t) {
    if (t <= 0) return "-";
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    localtime_r(&tt, &tm);
    std::ostringstream s;
    s << std::put_time(&tm, "%Y-%m-%d %H:%M");
    return s.str();
}

}  // namespace

int run_train(const TrainCommand& cmd, std::ostream& out) {
    const DistributedEnv env = read_distributed_env();
    const std::string store_path = cmd.store.empty() ? RunStore::default_path() : cmd.store;
    // A data parallel run is recorded by rank 0; the other ranks keep a run store in memory that nobody reads.
    auto store = RunStore::open(env.rank == 0 ? store_path : std::string(":memory:"));
    std::string resume = cmd.resume;
    // The other ranks find the checkpoint to resume from in rank 0's store, before they join the group
    // (rank 0 waits there for them, so it has written nothing new yet).
    if (!resume.empty() && env.rank > 0) resume = resolve_resume(resume, *RunStore::open(store_path));
    std::string config_path = cmd.config_path;
    if (config_path.empty() && !resume.empty()) {
        // Resuming without a config: the one saved in the checkpoint.
        std::string dir = resolve_resume(resume, *store);
        config_path = dir + "/run.yaml";
    }
    if (config_path.empty()) throw Error("give the run's YAML file, or --resume RUN|CHECKPOINT");
    TrainRequest request;
    request.config = read_train_config(config_path);
    request.config_text = read_text(config_path);
    if (cmd.dry_run) {
        describe_training(request.config, out, cmd.world_size > 0 ? cmd.world_size : env.world_size);
        return 0;
    }
    request.resume = resume;
    request.stop = &g_stop;
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    RankRole rank = join_data_parallel(request.config);
    request.data_parallel = rank.group.get();
    TrainOutcome outcome = run_training(request, *store, rank.private_events ? *rank.private_events : out);
    return outcome == TrainOutcome::Failed ? 1 : 0;
}

void run_runs(const RunsCommand& cmd, std::ostream& out) {
    auto store = RunStore::open(cmd.store.empty() ? RunStore::default_path() : cmd.store);
    if (cmd.action == "list") {
        auto runs = store->list_runs();
        if (cmd.json) {
            nlohmann::json j = nlohmann::json::array();
            for (const auto& r : runs)
                j.push_back({{"id", r.id}, {"name", r.name}, {"status", to_string(r.status)}, {"model", r.model}, {"output_dir", r.output_dir},
                             {"created_at", r.created_at}, {"final_metrics", r.final_metrics.empty() ? nlohmann::json() : nlohmann::json::parse(r.final_metrics)}});
            out << j.dump(2) << "\n";
            return;
        }
        out << std::left << std::setw(5) << "ID" << std::setw(13) << "STATUS" << std::setw(18) << "CREATED" << std::setw(12) << "LOSS" << "MODEL\n";
        for (const auto& r : runs) {
            std::string loss = "-";
            if (!r.final_metrics.empty()) {
                auto m = nlohmann::json::parse(r.final_metrics);
                if (m.contains("loss")) {
                    std::ostringstream s;
                    s << std::setprecision(4) << m["loss"].get<double>();
                    loss = s.str();
                }
            }
            out << std::setw(5) << r.id << std::setw(13) << to_string(r.status) << std::setw(18) << when(r.created_at) << std::setw(12) << loss << r.model << "\n";
        }
        return;
    }
    auto run = store->find_run(cmd.id);
    if (!run) throw Error("no run #" + std::to_string(cmd.id) + " in " + store->path());
    if (cmd.action == "delete") {
        store->delete_run(cmd.id);
        out << "deleted run #" << cmd.id << " from the run store (its files in " << run->output_dir << " are kept)\n";
        return;
    }
    // show
    auto checkpoints = store->checkpoints(cmd.id);
    auto losses = store->metrics(cmd.id, "loss");
    // A run that did not finish continues from its last checkpoint still on disk (what --resume ID takes).
    std::optional<CheckpointRecord> resume_from;
    if (is_resumable(run->status))
        for (auto it = checkpoints.rbegin(); it != checkpoints.rend() && !resume_from; ++it)
            if (std::filesystem::exists(std::filesystem::path(it->path) / "trainer_state.json")) resume_from = *it;
    if (cmd.json) {
        nlohmann::json ck = nlohmann::json::array();
        for (const auto& c : checkpoints) ck.push_back({{"step", c.step}, {"path", c.path}});
        nlohmann::json loss = nlohmann::json::array();
        for (const auto& m : losses) loss.push_back({m.step, m.value});
        out << nlohmann::json{{"id", run->id}, {"name", run->name}, {"status", to_string(run->status)}, {"model", run->model},
                              {"config_path", run->config_path}, {"config", run->config_text}, {"output_dir", run->output_dir},
                              {"error", run->error}, {"checkpoints", ck}, {"loss", loss},
                              {"resume_from", resume_from ? nlohmann::json(resume_from->path) : nlohmann::json()},
                              {"final_metrics", run->final_metrics.empty() ? nlohmann::json() : nlohmann::json::parse(run->final_metrics)}}
                   .dump(2)
            << "\n";
        return;
    }
    out << "run            #" << run->id << " " << run->name << "\n"
        << "status         " << to_string(run->status) << (run->error.empty() ? "" : " (" + run->error + ")") << "\n"
        << "model          " << run->model << "\n"
        << "config         " << run->config_path << "\n"
        << "output         " << run->output_dir << "\n"
        << "created        " << when(run->created_at) << ", finished " << when(run->finished_at) << "\n"
        << "steps logged   " << losses.size() << (losses.empty() ? "" : ", last loss " + std::to_string(losses.back().value)) << "\n"
        << "checkpoints    " << checkpoints.size() << "\n";
    for (const auto& c : checkpoints) out << "  step " << c.step << "  " << c.path << "\n";
    if (resume_from) out << "resume         lathe train --resume " << run->id << (cmd.store.empty() ? "" : " --store " + cmd.store) << "   (from step " << resume_from->step << ")\n";
}

}  // namespace lathe
