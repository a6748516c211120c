#include "ui/studio_run_store.h"

#include <QDateTime>
#include <QFileInfo>
#include <QTimer>

#include "core/runs/run_store.h"

namespace {
constexpr int kPollMs = 1000;  // a stat() of two files: cheap enough to do every second
}

StudioRunStore::StudioRunStore(QObject* parent) : QObject(parent), poll_(new QTimer(this)) {
    path_ = QString::fromStdString(lathe::RunStore::default_path());
    signature_ = signature();
    connect(poll_, &QTimer::timeout, this, &StudioRunStore::poll);
    poll_->start(kPollMs);
}

StudioRunStore::~StudioRunStore() = default;

void StudioRunStore::setPath(const QString& path) {
    if (path == path_) return;
    path_ = path;
    store_.reset();
    signature_ = signature();
    emit pathChanged(path);
    emit changed();
}

bool StudioRunStore::exists() const { return QFileInfo::exists(path_); }

QString StudioRunStore::signature() const {
    // WAL mode: commits land in -wal first, so both files' sizes and times tell of a change.
    QString s;
    for (const QString& f : {path_, path_ + "-wal"}) {
        QFileInfo info(f);
        s += QString("%1:%2:%3;").arg(info.exists()).arg(info.size()).arg(info.lastModified().toMSecsSinceEpoch());
    }
    return s;
}

void StudioRunStore::poll() {
    const QString now = signature();
    if (now == signature_) return;
    signature_ = now;
    if (!exists()) store_.reset();  // removed or replaced: open the new one when it comes
    emit changed();
}

const lathe::RunStore* StudioRunStore::store() const {
    if (!exists()) {
        store_.reset();
        return nullptr;
    }
    if (!store_) store_ = lathe::RunStore::open(path_.toStdString());
    return store_.get();
}

std::vector<lathe::RunRecord> StudioRunStore::list_runs() const {
    const lathe::RunStore* s = store();
    return s ? s->list_runs() : std::vector<lathe::RunRecord>{};
}

std::optional<lathe::RunRecord> StudioRunStore::find_run(int64_t id) const {
    const lathe::RunStore* s = store();
    return s ? s->find_run(id) : std::nullopt;
}

std::vector<lathe::MetricPoint> StudioRunStore::metrics(int64_t run, const std::string& name) const {
    const lathe::RunStore* s = store();
    return s ? s->metrics(run, name) : std::vector<lathe::MetricPoint>{};
}

std::vector<lathe::CheckpointRecord> StudioRunStore::checkpoints(int64_t run) const {
    const lathe::RunStore* s = store();
    return s ? s->checkpoints(run) : std::vector<lathe::CheckpointRecord>{};
}

std::vector<std::string> StudioRunStore::events(int64_t run) const {
    const lathe::RunStore* s = store();
    return s ? s->events(run) : std::vector<std::string>{};
}

std::vector<lathe::EvalScore> StudioRunStore::eval_scores(int64_t run) const {
    const lathe::RunStore* s = store();
    return s ? s->eval_scores(run) : std::vector<lathe::EvalScore>{};
}

bool StudioRunStore::deleteRun(qint64 id) {
    // The one write the Studio makes itself; `lathe train` writes everything else.
    if (!store()) return false;
    return store_->delete_run(id);
}
