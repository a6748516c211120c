// Lathe Studio's one connection to the run store (`lathe train --store` writes it). The main window owns
// it; the pages read through it as a lathe::RunReader, so a page never opens the database itself and a
// change of database reaches every page at once. The file is opened once it exists (`lathe train`
// creates it with the first run; the Studio does not), and its files are watched for changes.
#pragma once

#include <QObject>
#include <QString>
#include <memory>

#include "core/runs/run_reader.h"

namespace lathe {
class RunStore;
}
class QTimer;

class StudioRunStore : public QObject, public lathe::RunReader {
    Q_OBJECT
public:
    // At lathe::RunStore::default_path() until setPath().
    explicit StudioRunStore(QObject* parent = nullptr);
    ~StudioRunStore() override;

    void setPath(const QString& path);
    QString filePath() const { return path_; }
    // False while the database file does not exist yet: every query then answers "no runs".
    bool exists() const;

    // lathe::RunReader. With no database file yet: no runs. A database that cannot be read throws
    // lathe::Error naming it.
    std::vector<lathe::RunRecord> list_runs() const override;
    std::optional<lathe::RunRecord> find_run(int64_t id) const override;
    std::vector<lathe::MetricPoint> metrics(int64_t run, const std::string& name = "") const override;
    std::vector<lathe::CheckpointRecord> checkpoints(int64_t run) const override;
    std::vector<std::string> events(int64_t run) const override;
    std::vector<lathe::EvalScore> eval_scores(int64_t run) const override;
    std::string path() const override { return path_.toStdString(); }

    // Removes the run's records (its files stay on disk); false when there was no such run.
    bool deleteRun(qint64 id);
    // Compares the database files with the last look and emits changed() when they differ (also done
    // every second by a timer).
    void poll();

signals:
    void pathChanged(const QString& path);
    // The database was created, written or replaced since the last look.
    void changed();

private:
    const lathe::RunStore* store() const;  // opens it when the file exists; nullptr when it does not
    QString signature() const;

    QString path_;
    mutable std::unique_ptr<lathe::RunStore> store_;
    QString signature_;  // the database files' sizes and times at the last poll
    QTimer* poll_;
};
