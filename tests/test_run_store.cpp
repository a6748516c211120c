// The run store's own guarantees, torch-free: a run whose process died without an end event reads as
// "interrupted" (judged by host, boot id, pid and the process's start time), an older store is upgraded,
// and add_metrics is all or nothing. `lathe train` killed with -9 end to end: TrainRun.KillNine* in
// test_train_run.cpp.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <type_traits>
#include <unistd.h>

#include "core/runs/run_owner.h"
#include "core/runs/run_store.h"
#include "core/util/error.h"
#include "core/util/remove_tree.h"

extern char** environ;

namespace lathe {
namespace {

namespace fs = std::filesystem;

struct TempStore {
    fs::path dir;
    TempStore() {
        std::string tmpl = (fs::temp_directory_path() / "lathe-store-XXXXXX").string();
        dir = mkdtemp(tmpl.data());
    }
    ~TempStore() { remove_tree(dir); }
    std::string path() const { return (dir / "lathe.db").string(); }
};

// Runs SQL on the database with SQLite itself, not through RunStore.
void sql(const std::string& path, const std::string& statements) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, statements.c_str(), nullptr, nullptr, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << msg;
}

std::string column(const std::string& path, const std::string& query) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, query.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0)) out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
}

RunRecord named(const std::string& name) {
    RunRecord r;
    r.name = name;
    return r;
}

// The pid of a process that has exited and been reaped.
pid_t finished_process() {
    pid_t pid = -1;
    char arg0[] = "/bin/true";
    char* argv[] = {arg0, nullptr};
    EXPECT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ), 0);
    int status = 0;
    waitpid(pid, &status, 0);
    return pid;
}

TEST(RunOwner, TheCallingProcessIsAlive) {
    const RunOwner me = current_process();
    EXPECT_EQ(me.pid, static_cast<int64_t>(getpid()));
    EXPECT_FALSE(me.host.empty());
#ifdef __linux__
    EXPECT_FALSE(me.boot_id.empty());
    EXPECT_GT(me.start, 0);
#endif
    EXPECT_EQ(owner_state(me), OwnerState::alive);
}

TEST(RunOwner, AnExitedProcessIsGone) {
    RunOwner o = current_process();
    o.pid = finished_process();
    o.start = 0;
    EXPECT_EQ(owner_state(o), OwnerState::gone);
}

#ifdef __linux__
TEST(RunOwner, ThePidOfAnotherProcessOrBootIsGone) {
    RunOwner reused = current_process();  // our pid, but a process that started at another time
    reused.start += 1;
    EXPECT_EQ(owner_state(reused), OwnerState::gone);
    RunOwner before_reboot = current_process();
    before_reboot.boot_id = "00000000-0000-0000-0000-000000000000";
    EXPECT_EQ(owner_state(before_reboot), OwnerState::gone);
}
#endif

TEST(RunOwner, WhatCannotBeJudgedHereIsNotCalledGone) {
    RunOwner elsewhere = current_process();
    elsewhere.host += "-another-machine";
    elsewhere.pid = finished_process();
    EXPECT_EQ(owner_state(elsewhere), OwnerState::alive);
    EXPECT_EQ(owner_state(RunOwner{}), OwnerState::alive);  // never recorded
}

TEST(RunStore, IsNotCopyable) {
    static_assert(!std::is_copy_constructible_v<RunStore> && !std::is_copy_assignable_v<RunStore>);
}

// The process that set the run running dies without an end event (as `lathe train` under kill -9).
TEST(RunStore, ARunWhoseProcessDiedReadsAsInterrupted) {
    TempStore t;
    int64_t dead = 0, live = 0;
    {
        auto store = RunStore::open(t.path());
        dead = store->create_run(named("killed"));
        live = store->create_run(named("live"));
        store->set_status(live, lathe::RunStatus::running);
    }
    // A single-threaded test process: fork is safe here.
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        auto store = RunStore::open(t.path());
        store->set_status(dead, lathe::RunStatus::running);
        store->add_event(dead, R"({"event":"step","step":1})");
        _exit(0);  // no end event, no status
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));

    auto store = RunStore::open(t.path());
    auto run = store->find_run(dead);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->status, RunStatus::interrupted);
    EXPECT_EQ(run->owner.pid, child);
    EXPECT_NE(run->error.find("pid " + std::to_string(child)), std::string::npos) << run->error;
    EXPECT_GE(run->finished_at, run->started_at);
    EXPECT_GT(run->finished_at, 0);
    EXPECT_EQ(store->find_run(live)->status, RunStatus::running);  // this process still runs it
    // Recorded in the database, for every reader.
    EXPECT_EQ(column(t.path(), "SELECT status FROM runs WHERE id = " + std::to_string(dead)), "interrupted");
    EXPECT_EQ(column(t.path(), "SELECT status FROM runs WHERE id = " + std::to_string(live)), "running");
    int interrupted = 0;
    for (const auto& r : store->list_runs()) interrupted += r.status == RunStatus::interrupted;
    EXPECT_EQ(interrupted, 1);

    // Resumed: running again, owned by the process that resumed it.
    store->set_status(dead, lathe::RunStatus::running);
    EXPECT_EQ(store->find_run(dead)->status, RunStatus::running);
    EXPECT_EQ(store->find_run(dead)->owner.pid, static_cast<int64_t>(getpid()));
    EXPECT_EQ(store->find_run(dead)->finished_at, 0);
}

// A store from before owners were recorded (schema 1): upgraded in place; a run it left running cannot
// be checked and was not this version's, so it is interrupted.
TEST(RunStore, UpgradesASchemaOneStore) {
    TempStore t;
    sql(t.path(), R"(
        CREATE TABLE schema_version (version INTEGER NOT NULL);
        CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT, status TEXT NOT NULL, config_path TEXT, config_text TEXT,
                           model TEXT, datasets TEXT, output_dir TEXT, created_at REAL, started_at REAL, finished_at REAL,
                           error TEXT, final_metrics TEXT);
        CREATE TABLE metrics (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, step INTEGER NOT NULL,
                              name TEXT NOT NULL, value REAL, time REAL);
        CREATE TABLE checkpoints (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, step INTEGER NOT NULL,
                                  path TEXT NOT NULL, created_at REAL);
        CREATE TABLE events (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, time REAL, json TEXT NOT NULL);
        INSERT INTO schema_version VALUES (1);
        INSERT INTO runs (id, name, status, created_at, started_at, finished_at, error, final_metrics)
            VALUES (1, 'old-done', 'completed', 1, 1, 2, '', ''), (2, 'old-killed', 'running', 1, 1, 0, '', '');)");
    auto store = RunStore::open(t.path());
    EXPECT_EQ(column(t.path(), "SELECT version FROM schema_version"), std::to_string(RunStore::kSchemaVersion));
    EXPECT_EQ(store->find_run(1)->status, RunStatus::completed);
    EXPECT_EQ(store->find_run(2)->status, RunStatus::interrupted);
    EXPECT_EQ(store->find_run(2)->owner.pid, 0);
}

TEST(RunStore, AddMetricsIsAllOrNothing) {
    TempStore t;
    int64_t id = 0;
    {
        auto store = RunStore::open(t.path());
        id = store->create_run(named("m"));
    }
    // The third point of the batch fails inside SQLite, after two were inserted.
    sql(t.path(), "CREATE TRIGGER refuse_step_3 BEFORE INSERT ON metrics WHEN NEW.step = 3 BEGIN SELECT RAISE(ABORT, 'refused'); END;");
    auto store = RunStore::open(t.path());
    const std::vector<MetricPoint> batch = {{1, "loss", 2.0}, {2, "loss", 1.5}, {3, "loss", 1.25}, {4, "loss", 1.0}};
    EXPECT_THROW(store->add_metrics(id, batch), Error);
    EXPECT_TRUE(store->metrics(id).empty());  // the two before it were rolled back
    // No transaction was left open: later writes work and are committed.
    store->add_metrics(id, {{1, "loss", 2.0}, {2, "loss", 1.5}});
    store->set_status(id, lathe::RunStatus::completed);
    sql(t.path(), "DROP TRIGGER refuse_step_3;");
    EXPECT_EQ(RunStore::open(t.path())->metrics(id).size(), 2u);
    EXPECT_EQ(column(t.path(), "SELECT status FROM runs WHERE id = " + std::to_string(id)), "completed");
}

EvalScore score(const std::string& model, int64_t step, const std::string& task, const std::string& metric, double value,
                std::optional<double> stderr_value = std::nullopt) {
    EvalScore s;
    s.model = model;
    s.step = step;
    s.task = task;
    s.metric = metric;
    s.filter = "none";
    s.value = value;
    s.stderr_value = stderr_value;
    return s;
}

// lathe eval's scores beside a run: read back as written (a metric without a standard error stays
// without one), all of a batch or none, and gone with the run.
TEST(RunStore, EvalScoresBesideARun) {
    TempStore t;
    auto store = RunStore::open(t.path());
    const int64_t id = store->create_run(named("scored"));
    EXPECT_TRUE(store->eval_scores(id).empty());
    std::vector<EvalScore> scores = {score("base", -1, "arc", "acc", 0.25, 0.04), score("checkpoint 20", 20, "wiki", "word_perplexity", 31.5)};
    scores[0].num_fewshot = 5;
    scores[0].limit = 100;
    store->add_eval_scores(id, scores);
    const auto back = RunStore::open(t.path())->eval_scores(id);
    ASSERT_EQ(back.size(), 2u);
    EXPECT_EQ(back[0].model, "base");
    EXPECT_EQ(back[0].step, -1);
    EXPECT_EQ(back[0].task, "arc");
    EXPECT_EQ(back[0].metric, "acc");
    EXPECT_EQ(back[0].filter, "none");
    EXPECT_EQ(back[0].value, 0.25);
    ASSERT_TRUE(back[0].stderr_value);
    EXPECT_EQ(*back[0].stderr_value, 0.04);
    EXPECT_EQ(back[0].num_fewshot, 5);
    EXPECT_EQ(back[0].limit, 100);
    EXPECT_GT(back[0].time, 0);
    EXPECT_EQ(back[1].step, 20);
    EXPECT_FALSE(back[1].stderr_value);

    sql(t.path(), "CREATE TRIGGER refuse_mmlu BEFORE INSERT ON eval_scores WHEN NEW.task = 'mmlu' BEGIN SELECT RAISE(ABORT, 'refused'); END;");
    auto again = RunStore::open(t.path());
    EXPECT_THROW(again->add_eval_scores(id, {score("base", -1, "hellaswag", "acc", 0.5), score("base", -1, "mmlu", "acc", 0.5)}), Error);
    EXPECT_EQ(again->eval_scores(id).size(), 2u);  // hellaswag was rolled back with mmlu
    EXPECT_TRUE(again->delete_run(id));
    EXPECT_EQ(column(t.path(), "SELECT COUNT(*) FROM eval_scores"), "0");
}

// A store of schema 2 (before evaluation scores) gets the table and keeps its runs.
TEST(RunStore, UpgradesASchemaTwoStore) {
    TempStore t;
    int64_t id = 0;
    {
        auto store = RunStore::open(t.path());
        id = store->create_run(named("old"));
    }
    sql(t.path(), "DROP TABLE eval_scores; UPDATE schema_version SET version = 2;");
    auto store = RunStore::open(t.path());
    EXPECT_EQ(column(t.path(), "SELECT version FROM schema_version"), "3");
    EXPECT_EQ(store->find_run(id)->name, "old");
    store->add_eval_scores(id, {score("base", -1, "t", "acc", 1)});
    EXPECT_EQ(store->eval_scores(id).size(), 1u);
}

// The status column holds RunStatus's names; one this version does not know is an error that names the
// store, the run and the status, not a run silently shown as something else.
TEST(RunStore, UnknownStatusIsAClearError) {
    TempStore t;
    int64_t id = 0;
    {
        auto store = RunStore::open(t.path());
        id = store->create_run(named("future"));
        EXPECT_EQ(store->find_run(id)->status, RunStatus::created);
    }
    sql(t.path(), "UPDATE runs SET status = 'hibernating' WHERE id = " + std::to_string(id));
    auto store = RunStore::open(t.path());
    try {
        store->find_run(id);
        FAIL() << "no error";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(t.path()), std::string::npos) << what;
        EXPECT_NE(what.find("run #" + std::to_string(id)), std::string::npos) << what;
        EXPECT_NE(what.find("'hibernating'"), std::string::npos) << what;
    }
}

}  // namespace
}  // namespace lathe
