#include "core/runs/run_store.h"

#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "core/util/error.h"

namespace lathe {

namespace fs = std::filesystem;

namespace {

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct StmtDeleter {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

// A prepared statement with positional binds; errors name the database.
class Query {
public:
    Query(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
        sqlite3_stmt* raw = nullptr;
        if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) fail("prepare");
        stmt_.reset(raw);
    }
    Query& bind(int i, int64_t v) { return check(sqlite3_bind_int64(stmt_.get(), i, v)); }
    Query& bind(int i, double v) { return check(sqlite3_bind_double(stmt_.get(), i, v)); }
    Query& bind(int i, const std::optional<double>& v) { return check(v ? sqlite3_bind_double(stmt_.get(), i, *v) : sqlite3_bind_null(stmt_.get(), i)); }
    Query& bind(int i, const std::string& v) { return check(sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT)); }
    bool step() {
        int rc = sqlite3_step(stmt_.get());
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail("step");
        return false;
    }
    void reset() { sqlite3_reset(stmt_.get()); }
    int64_t integer(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
    double real(int col) const { return sqlite3_column_double(stmt_.get(), col); }
    bool is_null(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }
    std::string text(int col) const {
        const unsigned char* t = sqlite3_column_text(stmt_.get(), col);
        return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(stmt_.get(), col)) : std::string();
    }

private:
    Query& check(int rc) {
        if (rc != SQLITE_OK) fail("bind");
        return *this;
    }
    [[noreturn]] void fail(const char* what) const { throw Error(path_ + ": run store " + what + " failed: " + sqlite3_errmsg(db_)); }
    sqlite3* db_;
    const std::string& path_;
    Stmt stmt_;
};

constexpr const char* kRunColumns =
    "id, name, status, config_path, config_text, model, datasets, output_dir, created_at, started_at, finished_at, error, final_metrics, "
    "owner_host, owner_boot_id, owner_pid, owner_start";

RunRecord read_run(const Query& q, const std::string& store_path) {
    RunRecord r;
    r.id = q.integer(0);
    r.name = q.text(1);
    const std::string status = q.text(2);
    auto known = parse_run_status(status);
    if (!known)
        throw Error(store_path + ": run #" + std::to_string(r.id) + " has status '" + status +
                    "', which this version of Lathe does not know; open the store with the Lathe that wrote it");
    r.status = *known;
    r.config_path = q.text(3);
    r.config_text = q.text(4);
    r.model = q.text(5);
    r.datasets = q.text(6);
    r.output_dir = q.text(7);
    r.created_at = q.real(8);
    r.started_at = q.real(9);
    r.finished_at = q.real(10);
    r.error = q.text(11);
    r.final_metrics = q.text(12);
    r.owner.host = q.text(13);
    r.owner.boot_id = q.text(14);
    r.owner.pid = q.integer(15);
    r.owner.start = q.integer(16);
    return r;
}

std::string interrupted_message(const RunOwner& owner) {
    return "its process (pid " + std::to_string(owner.pid) + (owner.host.empty() ? "" : " on " + owner.host) +
           ") ended without finishing the run: killed, crashed, or the machine stopped";
}

}  // namespace

std::string RunStore::default_path() {
    if (const char* home = std::getenv("LATHE_HOME"); home && *home) return (fs::path(home) / "lathe.db").string();
    if (const char* data = std::getenv("XDG_DATA_HOME"); data && *data) return (fs::path(data) / "lathe" / "lathe.db").string();
    const char* user = std::getenv("HOME");
    return (fs::path(user ? user : ".") / ".local" / "share" / "lathe" / "lathe.db").string();
}

std::unique_ptr<RunStore> RunStore::open(const std::string& path) {
    std::error_code ec;
    if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path(), ec);
    sqlite3* db = nullptr;
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        throw Error(path + ": cannot open the run store: " + msg);
    }
    std::unique_ptr<RunStore> store(new RunStore(db, path));
    sqlite3_busy_timeout(db, 5000);  // the GUI reads while `lathe train` writes
    store->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
    store->exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    Query version(db, store->path_, "SELECT version FROM schema_version");
    int64_t current = version.step() ? version.integer(0) : 0;
    if (current > kSchemaVersion)
        throw Error(path + ": the run store was written by a newer Lathe (schema " + std::to_string(current) + "); upgrade Lathe");
    if (current < 1) {
        store->exec(R"(BEGIN;
            CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT, status TEXT NOT NULL, config_path TEXT, config_text TEXT,
                               model TEXT, datasets TEXT, output_dir TEXT, created_at REAL, started_at REAL, finished_at REAL,
                               error TEXT, final_metrics TEXT);
            CREATE TABLE metrics (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, step INTEGER NOT NULL,
                                  name TEXT NOT NULL, value REAL, time REAL);
            CREATE INDEX metrics_by_run ON metrics (run_id, name, step);
            CREATE TABLE checkpoints (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, step INTEGER NOT NULL,
                                      path TEXT NOT NULL, created_at REAL);
            CREATE TABLE events (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, time REAL, json TEXT NOT NULL);
            CREATE INDEX events_by_run ON events (run_id);
            DELETE FROM schema_version; INSERT INTO schema_version VALUES (1);
            COMMIT;)");
    }
    if (current < 2) {
        // The process running each run. Runs left "running" by a Lathe that did not record it cannot be
        // checked: their process is not this version's, so they were interrupted.
        store->exec(R"(BEGIN;
            ALTER TABLE runs ADD COLUMN owner_host TEXT NOT NULL DEFAULT '';
            ALTER TABLE runs ADD COLUMN owner_boot_id TEXT NOT NULL DEFAULT '';
            ALTER TABLE runs ADD COLUMN owner_pid INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE runs ADD COLUMN owner_start INTEGER NOT NULL DEFAULT 0;
            UPDATE runs SET status = 'interrupted', error = 'recorded as running by an older Lathe, which did not finish it' WHERE status = 'running';
            DELETE FROM schema_version; INSERT INTO schema_version VALUES (2);
            COMMIT;)");
    }
    if (current < 3) {
        // lathe eval's scores beside the run they were compared for (base, checkpoints, exports).
        store->exec(R"(BEGIN;
            CREATE TABLE eval_scores (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, model TEXT NOT NULL,
                                      step INTEGER NOT NULL, task TEXT NOT NULL, metric TEXT NOT NULL, filter TEXT NOT NULL,
                                      value REAL, stderr REAL, num_fewshot INTEGER, limit_docs INTEGER, time REAL);
            CREATE INDEX eval_scores_by_run ON eval_scores (run_id);
            DELETE FROM schema_version; INSERT INTO schema_version VALUES (3);
            COMMIT;)");
    }
    return store;
}

RunStore::~RunStore() { sqlite3_close(db_); }

void RunStore::exec(const char* sql) const {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw Error(path_ + ": run store: " + msg);
    }
}

int64_t RunStore::create_run(const RunRecord& r) {
    Query q(db_, path_, "INSERT INTO runs (name, status, config_path, config_text, model, datasets, output_dir, created_at, started_at, finished_at, error, final_metrics) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, '', '')");
    q.bind(1, r.name).bind(2, std::string(to_string(r.status))).bind(3, r.config_path).bind(4, r.config_text)
        .bind(5, r.model).bind(6, r.datasets).bind(7, r.output_dir).bind(8, now_seconds());
    q.step();
    return sqlite3_last_insert_rowid(db_);
}

void RunStore::set_status(int64_t run, RunStatus status, const std::string& error) {
    if (status == RunStatus::running) {
        const RunOwner me = current_process();
        Query q(db_, path_, "UPDATE runs SET status = ?, error = ?, started_at = ?, finished_at = 0, owner_host = ?, owner_boot_id = ?, "
                            "owner_pid = ?, owner_start = ? WHERE id = ?");
        q.bind(1, std::string(to_string(status))).bind(2, error).bind(3, now_seconds()).bind(4, me.host).bind(5, me.boot_id).bind(6, me.pid).bind(7, me.start).bind(8, run);
        q.step();
        return;
    }
    Query q(db_, path_, is_finished(status) ? "UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?"
                                            : "UPDATE runs SET status = ?, error = ?, started_at = ? WHERE id = ?");
    q.bind(1, std::string(to_string(status))).bind(2, error).bind(3, now_seconds()).bind(4, run);
    q.step();
}

RunRecord RunStore::settle(RunRecord r) const {
    if (r.status != RunStatus::running || owner_state(r.owner) != OwnerState::gone) return r;
    double ended = 0;
    {  // It ended when it last recorded anything.
        Query last(db_, path_, "SELECT MAX(t) FROM (SELECT MAX(time) AS t FROM events WHERE run_id = ?1 UNION ALL SELECT MAX(time) FROM metrics "
                               "WHERE run_id = ?1 UNION ALL SELECT MAX(created_at) FROM checkpoints WHERE run_id = ?1)");
        last.bind(1, r.id);
        if (last.step()) ended = last.real(0);
    }
    r.status = RunStatus::interrupted;
    r.error = interrupted_message(r.owner);
    r.finished_at = ended > 0 ? ended : r.started_at;
    try {
        // Only if the same process still owns it: a resume may have claimed the run since it was read.
        Query q(db_, path_, "UPDATE runs SET status = 'interrupted', error = ?, finished_at = ? WHERE id = ? AND status = 'running' "
                            "AND owner_pid = ? AND owner_start = ? AND owner_boot_id = ?");
        q.bind(1, r.error).bind(2, r.finished_at).bind(3, r.id).bind(4, r.owner.pid).bind(5, r.owner.start).bind(6, r.owner.boot_id);
        q.step();
    } catch (const Error&) {
        // A read-only store: the run still reads as interrupted, it just is not written back.
    }
    return r;
}

void RunStore::set_final_metrics(int64_t run, const std::string& json) {
    Query q(db_, path_, "UPDATE runs SET final_metrics = ? WHERE id = ?");
    q.bind(1, json).bind(2, run);
    q.step();
}

void RunStore::add_metrics(int64_t run, const std::vector<MetricPoint>& points) {
    exec("BEGIN");
    try {
        Query q(db_, path_, "INSERT INTO metrics (run_id, step, name, value, time) VALUES (?, ?, ?, ?, ?)");
        const double t = now_seconds();
        for (const auto& p : points) {
            q.bind(1, run).bind(2, p.step).bind(3, p.name).bind(4, p.value).bind(5, t);
            q.step();
            q.reset();
        }
    } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);  // none of the batch, and no transaction left open
        throw;
    }
    exec("COMMIT");
}

void RunStore::add_checkpoint(int64_t run, const CheckpointRecord& c) {
    Query q(db_, path_, "INSERT INTO checkpoints (run_id, step, path, created_at) VALUES (?, ?, ?, ?)");
    q.bind(1, run).bind(2, c.step).bind(3, c.path).bind(4, c.created_at > 0 ? c.created_at : now_seconds());
    q.step();
}

void RunStore::remove_checkpoint(int64_t run, const std::string& path) {
    Query q(db_, path_, "DELETE FROM checkpoints WHERE run_id = ? AND path = ?");
    q.bind(1, run).bind(2, path);
    q.step();
}

void RunStore::add_event(int64_t run, const std::string& json_line) {
    Query q(db_, path_, "INSERT INTO events (run_id, time, json) VALUES (?, ?, ?)");
    q.bind(1, run).bind(2, now_seconds()).bind(3, json_line);
    q.step();
}

std::vector<RunRecord> RunStore::list_runs() const {
    Query q(db_, path_, (std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY id").c_str());
    std::vector<RunRecord> out;
    while (q.step()) out.push_back(read_run(q, path_));
    for (auto& r : out) r = settle(std::move(r));
    return out;
}

std::optional<RunRecord> RunStore::find_run(int64_t id) const {
    Query q(db_, path_, (std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?").c_str());
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    RunRecord r = read_run(q, path_);
    q.reset();  // done reading before settle() may write
    return settle(std::move(r));
}

std::vector<MetricPoint> RunStore::metrics(int64_t run, const std::string& name) const {
    Query q(db_, path_, name.empty() ? "SELECT step, name, value FROM metrics WHERE run_id = ? ORDER BY rowid"
                                     : "SELECT step, name, value FROM metrics WHERE run_id = ? AND name = ? ORDER BY step, rowid");
    q.bind(1, run);
    if (!name.empty()) q.bind(2, name);
    std::vector<MetricPoint> out;
    while (q.step()) out.push_back({q.integer(0), q.text(1), q.real(2)});
    return out;
}

std::vector<CheckpointRecord> RunStore::checkpoints(int64_t run) const {
    Query q(db_, path_, "SELECT step, path, created_at FROM checkpoints WHERE run_id = ? ORDER BY step");
    q.bind(1, run);
    std::vector<CheckpointRecord> out;
    while (q.step()) out.push_back({q.integer(0), q.text(1), q.real(2)});
    return out;
}

std::vector<std::string> RunStore::events(int64_t run) const {
    Query q(db_, path_, "SELECT json FROM events WHERE run_id = ? ORDER BY rowid");
    q.bind(1, run);
    std::vector<std::string> out;
    while (q.step()) out.push_back(q.text(0));
    return out;
}

void RunStore::add_eval_scores(int64_t run, const std::vector<EvalScore>& scores) {
    exec("BEGIN");
    try {
        Query q(db_, path_, "INSERT INTO eval_scores (run_id, model, step, task, metric, filter, value, stderr, num_fewshot, limit_docs, time) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        const double t = now_seconds();
        for (const EvalScore& s : scores) {
            q.bind(1, run).bind(2, s.model).bind(3, s.step).bind(4, s.task).bind(5, s.metric).bind(6, s.filter).bind(7, s.value)
                .bind(8, s.stderr_value).bind(9, s.num_fewshot).bind(10, s.limit).bind(11, s.time > 0 ? s.time : t);
            q.step();
            q.reset();
        }
    } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
    exec("COMMIT");
}

std::vector<EvalScore> RunStore::eval_scores(int64_t run) const {
    Query q(db_, path_, "SELECT model, step, task, metric, filter, value, stderr, num_fewshot, limit_docs, time FROM eval_scores "
                        "WHERE run_id = ? ORDER BY rowid");
    q.bind(1, run);
    std::vector<EvalScore> out;
    while (q.step()) {
        EvalScore s;
        s.model = q.text(0);
        s.step = q.integer(1);
        s.task = q.text(2);
        s.metric = q.text(3);
        s.filter = q.text(4);
        s.value = q.real(5);
        if (!q.is_null(6)) s.stderr_value = q.real(6);
        s.num_fewshot = q.integer(7);
        s.limit = q.integer(8);
        s.time = q.real(9);
        out.push_back(std::move(s));
    }
    return out;
}

bool RunStore::delete_run(int64_t run) {
    Query q(db_, path_, "DELETE FROM runs WHERE id = ?");
    q.bind(1, run);
    q.step();
    return sqlite3_changes(db_) > 0;
}

}  // namespace lathe
